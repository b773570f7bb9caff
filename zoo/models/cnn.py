"""Placeholder: this family's builder and presets are being written."""

from zoo.models.preset import Preset

PRESETS: list[Preset] = []
