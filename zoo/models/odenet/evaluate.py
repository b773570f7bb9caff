"""The protocol of `odenet_digits`: the digits protocol of the image classifiers, plus the cost
of its ODE solve (function evaluations of the field per forward pass)."""

from __future__ import annotations

import keras
import numpy as np

from zoo.data.digits import load_digits_split
from zoo.models.common.digits_protocol import accuracy, baselines
from zoo.models.common.digits_protocol import evaluate as digits_evaluate
from zoo.models.odenet.model import ODE_NAME

__all__ = ["accuracy", "baselines", "evaluate", "solver_cost"]


def solver_cost(model: keras.Model, images: np.ndarray | None = None) -> dict[str, int | None]:
    """Field evaluations of one forward solve on `images` (default: the digits test part, as one
    batch: the solver steps the whole batch together, so this is also the count per image)."""
    if images is None:
        images = load_digits_split().x_test
    model(images, training=False)
    block = model.get_layer(ODE_NAME)
    count = getattr(block, "nfe_forward", None)
    return {"function_evaluations_per_image": None if count is None else int(count)}


def evaluate(model: keras.Model, *, with_baselines: bool = True) -> dict:
    """Test accuracy beside the baselines, and the solver's cost."""
    return {**digits_evaluate(model, with_baselines=with_baselines), **solver_cost(model)}
