"""`ZooModel`: the base of every family's Keras model (a functional graph with a real config).

A family subclasses it and builds its functional graph in `__init__(**builder_kwargs)`, then calls
`super().__init__(inputs, outputs, config=builder_kwargs, name=...)`. What that gives:

- `get_config()` returns the builder kwargs (plus `name`) and `from_config` rebuilds the model from
  them: a `.keras` file stores the architecture as its family's own arguments, and
  `model.get_config()` tells a user exactly how the model was built.
- Keras-native fine-tuning on one named output: `compile(loss={"probabilities": ...},
  metrics={"probabilities": ["accuracy"]})` then `fit(x, {"probabilities": y})`. Keras' compiled
  metrics look up a target for every output of a dict-output model; outputs without a target
  (an argmax, a threshold flag) get their own prediction as a stand-in target, which no loss or
  metric reads unless the user asked for one on that output (then `fit` says the target is missing).
"""

from __future__ import annotations

from typing import Any

import keras


class ZooModel(keras.Model):
    """A functional model whose config is its builder's keyword arguments."""

    def __init__(self, inputs: Any, outputs: Any, *, config: dict[str, Any], **kwargs: Any):
        super().__init__(inputs, outputs, **kwargs)
        self._builder_config = dict(config)

    @property
    def builder_config(self) -> dict[str, Any]:
        """The keyword arguments this model was built with (a copy)."""
        return dict(self._builder_config)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self._builder_config}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> ZooModel:
        return cls(**config)

    def _targets_for_every_output(self, y: Any, y_pred: Any) -> Any:
        if not (isinstance(y, dict) and isinstance(y_pred, dict)):
            return y
        missing = [name for name in y_pred if name not in y]
        asked = set(self._metric_outputs())
        for name in missing:
            if name in asked:
                raise ValueError(
                    f"A metric was compiled for output '{name}', but `y` has no target for it. "
                    f"Received targets for: {sorted(y)}"
                )
        return {name: y.get(name, y_pred[name]) for name in y_pred}

    def _metric_outputs(self) -> list[str]:
        metrics = getattr(self, "_compile_config", None)
        config = metrics.config if metrics is not None else {}
        names: list[str] = []
        for key in ("metrics", "weighted_metrics"):
            value = config.get(key)
            if isinstance(value, dict):
                names += [name for name, entry in value.items() if entry]
        return names

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(
            x, self._targets_for_every_output(y, y_pred), y_pred, sample_weight
        )
