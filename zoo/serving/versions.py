"""Version folders under a model base path, read as TF Serving reads them."""

from __future__ import annotations

from pathlib import Path

_INT64_MAX = (1 << 63) - 1


def version_folders(base: Path) -> dict[int, str]:
    """Version -> folder name of the numeric folders under `base`, as TF Serving reads them:
    `0001/` is version 1 (the shortest name wins a tie with `1/`); names that do not fit an int64
    and hidden or non-numeric folders (an export in progress) are skipped."""
    found: dict[int, str] = {}
    if not base.is_dir():
        return found
    for child in base.iterdir():
        name = child.name
        if not (name.isascii() and name.isdigit()) or len(name.lstrip("0")) > 19:
            continue
        version = int(name)
        if version > _INT64_MAX or not child.is_dir():
            continue
        if version not in found or len(name) < len(found[version]):
            found[version] = name
    return found
