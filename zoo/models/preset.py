"""What a ready-made model family declares for each of its pretrained presets.

A family module (`zoo/models/cnn.py`, `forecaster.py`, `anomaly.py`) defines its builder and a
module-level `PRESETS: list[Preset]` next to it; `zoo.registry` collects them. A preset on disk is
the folder `zoo/pretrained/<name>/` holding `config.json` (builder kwargs), `model.weights.h5` and
`card.json` (the model card, with the sha256 of the weights file, checked at load).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np


@dataclass(frozen=True)
class Preset:
    """One registered, pretrained model.

    Attributes:
        name: registry name, e.g. "forecaster_co2".
        task: "image-classification", "forecasting" or "anomaly-detection".
        summary: one line for `zoo list`.
        build: `build(**config) -> keras.Model`, untrained; raw units in, raw units out.
        config: the builder kwargs of the shipped weights (overridable in `zoo.build`).
        train: the recipe, `train(output_dir: Path, *, seed: int, verbose: int) -> dict`; trains
            from the bundled data, writes the preset folder (via `zoo.registry.save_pretrained`) and
            returns the metrics it reached.
        evaluate: `evaluate(model) -> dict`: the card's metrics on the card's protocol, with the
            baselines measured on the same split.
        predict: `predict(model, data: np.ndarray) -> dict[str, np.ndarray]` on raw user data (a
            1-D series for series models, images for the CNN).
        fine_tune: `fine_tune(model, data, *, epochs, learning_rate, **kw) -> keras.Model` on a
            user's raw data.
        plot: `plot(model, path: Path) -> Path`: the preset's picture on its own test split.
        signatures: extra SavedModel signatures, name -> output names of the model's dict output.
    """

    name: str
    task: str
    summary: str
    build: Callable[..., keras.Model]
    config: Mapping[str, Any]
    train: Callable[..., dict]
    evaluate: Callable[[keras.Model], dict]
    predict: Callable[[keras.Model, np.ndarray], dict[str, np.ndarray]]
    fine_tune: Callable[..., keras.Model]
    plot: Callable[[keras.Model, Path], Path]
    signatures: Mapping[str, Sequence[str]] = field(default_factory=dict)
