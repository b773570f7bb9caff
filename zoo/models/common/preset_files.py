"""The preset folder on disk: write it, and check it before anything in it is trusted.

A preset folder holds `config.json` (the builder's kwargs), `model.weights.h5`, `card.json` (the
model card) and `SHA256SUMS`: one line "<sha256>  <file name>" for each of those three files (the
`sha256sum` format, so `sha256sum -c SHA256SUMS` checks it too). `verify` and `read_json` refuse a
folder whose files are missing, changed or unreadable, naming the file. A training run's folder
holds the same files beside its checkpoints and logs.

This module imports no Keras: the CLI reads cards with it without loading TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

WEIGHTS_FILE = "model.weights.h5"
CONFIG_FILE = "config.json"
CARD_FILE = "card.json"
CHECKSUM_FILE = "SHA256SUMS"


class PresetFileError(ValueError):
    """A preset file is missing, changed or unreadable; the message names the file."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.chmod(temporary, 0o644)  # package data: readable by everyone, as the weights file is
    os.replace(temporary, path)


PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, CARD_FILE)


def write_checksums(directory: Path, names: tuple[str, ...] = PRESET_FILES) -> dict[str, str]:
    """Write `SHA256SUMS` over the files `names` of `directory`; return name -> sha256."""
    directory = Path(directory)
    sums = {name: sha256_of(directory / name) for name in sorted(names)}
    lines = "".join(f"{digest}  {name}\n" for name, digest in sums.items())
    _write_atomically(directory / CHECKSUM_FILE, lines)
    return sums


def write_preset(directory: Path, model: Any, config: dict, card: dict) -> Path:
    """Write weights, config, card and checksums of a trained `model` into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_weights(directory / WEIGHTS_FILE)
    _write_atomically(directory / CONFIG_FILE, json.dumps(config, indent=2, sort_keys=True) + "\n")
    card = {**card, "weights_sha256": sha256_of(directory / WEIGHTS_FILE)}
    _write_atomically(directory / CARD_FILE, json.dumps(card, indent=2) + "\n")
    write_checksums(directory)
    return directory


def _read_checksums(directory: Path) -> dict[str, str]:
    path = directory / CHECKSUM_FILE
    if not path.is_file():
        raise PresetFileError(
            f"The preset folder {directory} has no {CHECKSUM_FILE}: expected a checksum of every "
            "file; reinstall the package or rerun `zoo train`."
        )
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or "/" in name:
            raise PresetFileError(
                f"{path} line {number} must read '<sha256>  <file name>'. Received: {line!r}"
            )
        sums[name] = digest
    return sums


def verify(directory: Path, names: tuple[str, ...] | None = None) -> None:
    """Check the files `names` (default: all) of a preset folder against `SHA256SUMS`."""
    directory = Path(directory)
    sums = _read_checksums(directory)
    missing = [name for name in PRESET_FILES if name not in sums]
    if missing:
        raise PresetFileError(
            f"{directory / CHECKSUM_FILE} has no checksum for {missing[0]}: it must cover "
            f"{', '.join(PRESET_FILES)}."
        )
    for name in names if names is not None else tuple(sums):
        path = directory / name
        if name not in sums:
            raise PresetFileError(f"{path} is not listed in {directory / CHECKSUM_FILE}.")
        if not path.is_file():
            raise PresetFileError(f"{path} is missing: the preset folder is incomplete.")
        actual = sha256_of(path)
        if actual != sums[name]:
            raise PresetFileError(
                f"{path} fails its checksum (sha256 {actual}, {CHECKSUM_FILE} expects "
                f"{sums[name]}): the file is corrupt or was changed; reinstall the package or "
                "rerun `zoo train`."
            )


def read_json(directory: Path, name: str) -> dict:
    """A JSON file of a preset folder, checked against `SHA256SUMS` first."""
    verify(directory, (name,))
    path = Path(directory) / name
    try:
        value = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PresetFileError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise PresetFileError(f"{path} must hold a JSON object. Received: {type(value).__name__}")
    return value
