"""Registry: model name -> preset (builder, config, pretrained folder, card).

Family modules declare `PRESETS`; this module collects them, builds and loads models, and writes
and verifies the preset folders in `zoo/pretrained/<name>/`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import keras

from zoo.models.preset import Preset

FAMILY_MODULES = ("zoo.models.cnn", "zoo.models.forecaster", "zoo.models.anomaly")
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
WEIGHTS_FILE = "model.weights.h5"
CONFIG_FILE = "config.json"
CARD_FILE = "card.json"


def _all_presets() -> dict[str, Preset]:
    presets: dict[str, Preset] = {}
    for module_name in FAMILY_MODULES:
        for preset in importlib.import_module(module_name).PRESETS:
            presets[preset.name] = preset
    return presets


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


def build(name: str, **overrides: Any) -> keras.Model:
    """The architecture of `name`, untrained, with builder kwargs overridden by `overrides`."""
    preset = get_preset(name)
    config = dict(preset.config)
    stored = preset_dir(name) / CONFIG_FILE
    if stored.exists():
        config.update(json.loads(stored.read_text()))
    config.update(overrides)
    return preset.build(**config)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def info(name: str) -> dict:
    """The model card of `name` as a dict (with the registry's one-line summary if it has none)."""
    preset = get_preset(name)
    card_path = preset_dir(name) / CARD_FILE
    if not card_path.exists():
        raise FileNotFoundError(
            f"Model '{name}' has no pretrained weights yet: run `zoo train {name}`."
        )
    card = json.loads(card_path.read_text())
    card.setdefault("summary", preset.summary)
    return card


def load(name: str) -> keras.Model:
    """`name` with its pretrained weights, after checking the weights' sha256 against the card."""
    card = info(name)
    weights = preset_dir(name) / WEIGHTS_FILE
    if not weights.exists():
        raise FileNotFoundError(f"Pretrained weights of '{name}' are missing: expected {weights}")
    actual = sha256_of(weights)
    if actual != card["weights_sha256"]:
        raise ValueError(
            f"Pretrained weights of '{name}' fail their checksum (file {weights} has sha256 "
            f"{actual}, the card expects {card['weights_sha256']}): the file is corrupt or was "
            "changed; reinstall the package or rerun `zoo train`."
        )
    model = build(name)
    model.load_weights(weights)
    return model


def save_pretrained(
    model: keras.Model, name: str, config: dict, card: dict, directory: Path | None = None
) -> Path:
    """Write `config.json`, `model.weights.h5` and `card.json` (with the weights' sha256)."""
    directory = Path(directory) if directory is not None else preset_dir(name)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS_FILE
    model.save_weights(weights)
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    card = {**card, "name": name, "weights_sha256": sha256_of(weights)}
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return directory
