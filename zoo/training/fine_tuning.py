"""Fine-tuning helpers: freeze a backbone, train it slower than the head, swap the head.

Change what is trainable *before* building a Trainer: the Trainer builds its optimizer on the
model's trainable variables and traces its step once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras

from zoo.training.optimizers import GroupedOptimizer, resolve_optimizer


def _layer_index(model: keras.Model, layer_name: str, argument: str) -> int:
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(
            f"`{argument}` {layer_name!r} is not a layer of model {model.name!r}. "
            f"Choose one of: {', '.join(names)}"
        )
    return names.index(layer_name)


def freeze_up_to(model: keras.Model, layer_name: str, *, inclusive: bool = True) -> list[str]:
    """Freeze the layers from the input up to `layer_name` (included unless `inclusive=False`).

    Returns the names of the layers frozen. Layers after it are left as they are.
    """
    stop = _layer_index(model, layer_name, "layer_name") + (1 if inclusive else 0)
    frozen = []
    for layer in model.layers[:stop]:
        layer.trainable = False
        frozen.append(layer.name)
    return frozen


def unfreeze(model: keras.Model, from_layer: str | None = None) -> list[str]:
    """Make layers trainable again: all of them, or those from `from_layer` to the output.

    Returns the names of the layers unfrozen.
    """
    start = 0 if from_layer is None else _layer_index(model, from_layer, "from_layer")
    unfrozen = []
    for layer in model.layers[start:]:
        layer.trainable = True
        unfrozen.append(layer.name)
    return unfrozen


def backbone_head_optimizer(
    model: keras.Model,
    *,
    head_from: str,
    optimizer: Any = "adam",
    learning_rate: float | None = None,
    backbone_factor: float = 0.1,
) -> GroupedOptimizer:
    """An optimizer that trains the backbone with `backbone_factor` × the head's learning rate.

    Args:
        model: the model to fine-tune.
        head_from: name of the first layer of the head; the layers before it are the backbone.
        optimizer: a name or Keras optimizer giving the head's optimizer (its class and config
            are reused for the backbone with the lower learning rate).
        learning_rate: the head's learning rate (default: the optimizer's own).
        backbone_factor: the backbone's learning rate divided by the head's, in (0, 1].
    """
    if not 0.0 < backbone_factor <= 1.0:
        raise ValueError(
            f"`backbone_factor` must be in (0, 1]. Received: backbone_factor={backbone_factor!r}"
        )
    head_optimizer = resolve_optimizer(optimizer)
    if not isinstance(head_optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            f"`optimizer` must be a name or a Keras optimizer. Received: {type(optimizer).__name__}"
        )
    config = head_optimizer.get_config()
    if learning_rate is not None:
        config["learning_rate"] = float(learning_rate)
        head_optimizer = type(head_optimizer).from_config(config)
    head_lr = float(keras.ops.convert_to_numpy(head_optimizer.learning_rate))
    backbone_config = dict(config, learning_rate=head_lr * backbone_factor)
    backbone_config["name"] = f"{config.get('name', 'optimizer')}_backbone"
    backbone_optimizer = type(head_optimizer).from_config(backbone_config)
    split = _layer_index(model, head_from, "head_from")
    backbone_variables = [v for layer in model.layers[:split] for v in layer.trainable_variables]
    head_variables = [v for layer in model.layers[split:] for v in layer.trainable_variables]
    return GroupedOptimizer(
        [(backbone_variables, backbone_optimizer), (head_variables, head_optimizer)]
    )


def replace_head(
    model: keras.Model,
    *,
    keep_up_to: str,
    head: keras.layers.Layer | Sequence[keras.layers.Layer] | Callable[[Any], Any],
    name: str | None = None,
) -> keras.Model:
    """A new model: `model`'s layers up to `keep_up_to` (same objects, same weights) + `head`.

    Args:
        model: a built functional or Sequential model.
        keep_up_to: name of the last backbone layer whose output feeds the new head.
        head: a layer, a list of layers applied in order, or a function of the features tensor
            (e.g. a new `Dense(num_classes)` or `Dense(new_horizon)`).
        name: the new model's name (default `<model.name>_finetune`).

    The backbone's layers are shared with `model`, so their weights are kept as they are.
    """
    index = _layer_index(model, keep_up_to, "keep_up_to")
    features = model.layers[index].output
    if isinstance(head, Sequence):
        outputs = features
        for layer in head:
            outputs = layer(outputs)
    elif callable(head):
        outputs = head(features)
    else:
        raise TypeError(
            "`head` must be a layer, a list of layers or a callable. "
            f"Received: {type(head).__name__}"
        )
    return keras.Model(model.input, outputs, name=name or f"{model.name}_finetune")
