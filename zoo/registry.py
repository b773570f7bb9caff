"""The registry: model name -> `Preset`, and the preset folders of the shipped weights.

Each family package declares its presets as data in `zoo/models/<family>/presets.py`; this module
collects them. Listing the zoo and reading a card (`list_models`, `get_preset`, `info`) import
neither Keras nor TensorFlow; `build` and `load` do, when called.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.models.common.preset import Preset
from zoo.models.common.preset_files import (
    CARD_FILE,
    CONFIG_FILE,
    WEIGHTS_FILE,
    PresetFileError,
    read_json,
    verify,
)

if TYPE_CHECKING:
    import keras

FAMILIES = ("cnn", "odenet", "forecaster", "universal", "anomaly", "universal_anomaly")
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"

__all__ = [
    "FAMILIES",
    "PRETRAINED_DIR",
    "Preset",
    "PresetFileError",
    "build",
    "custom_object_modules",
    "get_preset",
    "info",
    "list_models",
    "load",
    "preset_dir",
]


def _presets_module(family: str):
    return importlib.import_module(f"zoo.models.{family}.presets")


@cache
def _all_presets() -> dict[str, Preset]:
    presets: dict[str, Preset] = {}
    for family in FAMILIES:
        for preset in _presets_module(family).PRESETS:
            if preset.name in presets:
                raise ValueError(f"Two presets are called {preset.name!r}.")
            presets[preset.name] = preset
    return presets


def custom_object_modules() -> tuple[str, ...]:
    """Every module that defines a Keras custom object of a family (imported to register them)."""
    return tuple(m for f in FAMILIES for m in _presets_module(f).CUSTOM_OBJECT_MODULES)


def list_models() -> list[str]:
    """Names of every registered pretrained model, sorted."""
    return sorted(_all_presets())


def get_preset(name: str) -> Preset:
    """The preset called `name`; an unknown name lists the valid ones."""
    presets = _all_presets()
    if name not in presets:
        raise ValueError(
            f"Unknown model '{name}'. Choose one of: {', '.join(sorted(presets)) or '(none)'}"
        )
    return presets[name]


def preset_dir(name: str) -> Path:
    return PRETRAINED_DIR / name


def _require_folder(name: str) -> Path:
    get_preset(name)  # an unknown name lists the valid ones
    folder = preset_dir(name)
    if not (folder / CARD_FILE).exists():
        raise FileNotFoundError(
            f"Model '{name}' has no pretrained weights yet: run `zoo train {name}`."
        )
    return folder


def info(name: str) -> dict:
    """The model card of `name` as a dict (checked against the preset's SHA256SUMS)."""
    preset = get_preset(name)
    card = read_json(_require_folder(name), CARD_FILE)
    card.setdefault("summary", preset.summary)
    return card


def config(name: str, folder: str | Path | None = None) -> dict[str, Any]:
    """The builder kwargs of `name`: the preset's, updated by the shipped `config.json` (or, with
    `folder`, by that preset folder's)."""
    result = dict(get_preset(name).config)
    if folder is None and (preset_dir(name) / CARD_FILE).exists():
        folder = preset_dir(name)
    if folder is not None:
        result.update(read_json(Path(folder), CONFIG_FILE))
    return result


def build(name: str, **overrides: Any) -> keras.Model:
    """The architecture of `name`, untrained, with builder kwargs overridden by `overrides`."""
    return get_preset(name).resolve("builder")(**{"name": name, **config(name), **overrides})


def load(name: str, folder: str | Path | None = None) -> keras.Model:
    """`name` with its pretrained weights, after checking every file of its preset folder.

    `folder`: a preset folder that `zoo train NAME --output-dir DIR` wrote (checked the same
    way), in place of the shipped one: its `config.json` and weights.
    """
    folder = _require_folder(name) if folder is None else Path(folder)
    verify(folder)
    builder = get_preset(name).resolve("builder")
    model = builder(**{**config(name, folder), "name": name})
    model.load_weights(folder / WEIGHTS_FILE)
    return model
