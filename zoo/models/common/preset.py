"""`Preset`: what a model family declares for each of its ready-made models, as plain data.

A family's `presets.py` lists its presets; `zoo.registry` collects them. Every callable is named by
a reference string "package.module:attribute" and imported only when it is used, so listing the
zoo or reading a card imports neither Keras nor TensorFlow (`zoo list` stays fast).

The callables a preset names, with the signatures the registry and the CLI rely on:

    builder(**config) -> keras.Model                       untrained; raw units in, raw units out
    recipe(output_dir, *, seed, epochs, verbose) -> dict   trains through zoo.training.Trainer
                                                           (checkpoints and TensorBoard logs in
                                                           output_dir, resumable) and writes the
                                                           preset folder; returns the card
    evaluation(model) -> dict                              the card's metrics on its protocol,
                                                           beside baselines refit on the same split
    plot(model, path) -> Path                              the preset's picture on its test split
    predict(model, data) -> dict[str, np.ndarray]          on raw user data
    fine_tune(model, data, *, epochs, learning_rate, verbose, **options) -> keras.Model
                                                           through the Trainer, on raw user data
    data() -> object                                       the bundled data set of the preset

A preset on disk is the folder `zoo/pretrained/<name>/`: `config.json` (builder kwargs),
`model.weights.h5`, `card.json` and `SHA256SUMS` (a checksum of every other file).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TASKS = ("image-classification", "forecasting", "anomaly-detection")

# What `zoo fine-tune` may pass on to a family's fine_tune, by task (each flag maps to a keyword).
FINE_TUNE_OPTIONS = {
    "image-classification": ("num_classes", "freeze_backbone"),
    "forecasting": ("horizon", "period", "window", "freeze_backbone"),
    "anomaly-detection": ("window", "period", "false_alarm_rate", "percentile"),
}


def resolve(reference: str) -> Any:
    """The object a "package.module:attribute" reference names (imported on demand)."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(
            f"A preset reference must look like 'package.module:attribute'. Received: {reference!r}"
        )
    return getattr(importlib.import_module(module_name), attribute)


@dataclass(frozen=True)
class Preset:
    """One registered, pretrained model (see the module docstring for the callables' contract).

    Attributes:
        name: registry name, e.g. "forecaster_co2".
        family: the family package under `zoo.models`, e.g. "forecaster".
        task: one of `TASKS`.
        summary: one line for `zoo list`.
        builder, recipe, evaluation, plot, predict, fine_tune, data: "module:attribute" references.
        config: the builder kwargs of the shipped weights (the folder's config.json overrides).
        signatures: extra SavedModel signatures, name -> output names of the model's dict output.
        warmup: "module:attribute" of a function `model -> inputs`: a few realistic inputs from
            held-out data, written as the export's warm-up requests.
    """

    name: str
    family: str
    task: str
    summary: str
    builder: str
    recipe: str
    evaluation: str
    plot: str
    predict: str
    fine_tune: str
    data: str
    config: Mapping[str, Any] = field(default_factory=dict)
    signatures: Mapping[str, Sequence[str]] = field(default_factory=dict)
    warmup: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(
                f"`task` must be one of {', '.join(TASKS)}. Received: task={self.task!r} "
                f"(preset {self.name!r})"
            )
        for attribute in ("builder", "recipe", "evaluation", "plot", "predict", "fine_tune"):
            reference = getattr(self, attribute)
            if ":" not in reference:
                raise ValueError(
                    f"`{attribute}` of preset {self.name!r} must be a 'module:attribute' "
                    f"reference. Received: {reference!r}"
                )

    def resolve(self, attribute: str) -> Any:
        """The callable behind one of the reference attributes, e.g. `preset.resolve("builder")`."""
        reference = getattr(self, attribute)
        if reference is None:
            raise ValueError(f"Preset {self.name!r} declares no `{attribute}`.")
        return resolve(reference)

    @property
    def fine_tune_options(self) -> tuple[str, ...]:
        """The keyword options `zoo fine-tune` may pass for this preset's task."""
        return FINE_TUNE_OPTIONS[self.task]
