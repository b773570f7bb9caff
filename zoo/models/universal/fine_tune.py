"""Fine-tuning the universal forecaster on a user's own series, through `zoo.training.Trainer`.

Windows are cut from the user's series as from the training corpus (`sample_windows`: a random
cut point, the context before it, NaN-left-padded, normalised as the model normalises), and the
pinball loss of the three quantiles is minimised at a small learning rate, so the pretrained
model moves towards the user's data without forgetting how to forecast.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from zoo.models.common.backtest import check_series
from zoo.models.common.runs import open_run, trainer_folders
from zoo.models.universal.recipe import CONFIG, pinball_loss
from zoo.models.universal.windows import CorpusSeries, sample_windows
from zoo.training import Trainer


def fine_tune(
    model: keras.Model,
    data,
    *,
    epochs: int = 5,
    learning_rate: float = 1e-4,
    period: int | None = None,
    windows: int = 4096,
    batch_size: int = 64,
    seed: int = 0,
    run_dir: Path | None = None,
    verbose: int = 0,
) -> keras.Model:
    """Fine-tune `model` (in place) on the raw 1-D series `data` (or a list of them).

    `period` is the series' season length for the seasonal adjustment (1: none).
    """
    series_list = data if isinstance(data, list | tuple) else [data]
    corpus = [
        CorpusSeries(check_series(s, name="data", min_length=8), int(period or 1), "user")
        for s in series_list
    ]
    context, horizon = CONFIG["context_length"], CONFIG["horizon"]
    x, y = sample_windows(
        corpus, {"user": 1.0}, windows, context_length=context, horizon=horizon, seed=seed
    )
    run = open_run(
        run_dir,
        {"fine_tune": model.name, "epochs": epochs, "learning_rate": learning_rate, "seed": seed,
         "values": int(sum(len(s.values) for s in corpus))},
    )  # fmt: skip
    Trainer(
        model=model,
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={"quantiles": pinball_loss},
        seed=seed,
        **trainer_folders(run, "fine_tune"),
    ).fit(
        (x, {"quantiles": y}),
        epochs=epochs,
        batch_size=batch_size,
        resume=run is not None,
        verbose=verbose,
    )
    return model


def predict(model: keras.Model, data) -> dict[str, np.ndarray]:
    """The forecast of the model's default horizon from the end of a raw 1-D series."""
    from zoo.models.universal.forecast import forecast

    values = check_series(data, name="data", min_length=1)
    out = forecast(model, values, CONFIG["horizon"])
    return {"forecast": out["forecast"][0], "quantiles": out["quantiles"][0]}


def warmup_inputs(model: keras.Model, count: int = 3) -> dict[str, np.ndarray]:
    """The last contexts of a few M3 yearly series (the training corpus' validation part),
    NaN-left-padded as a client sends them."""
    from zoo.data.competitions import load_competition

    context = CONFIG["context_length"]
    batch = np.full((count, context), np.nan, dtype="float32")
    for row, series in enumerate(load_competition("m3", "yearly")[:count]):
        values = np.asarray(series.train, dtype="float32")[-context:]
        batch[row, context - len(values) :] = values
    return {"context": batch}
