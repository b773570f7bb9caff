"""Custom GradientTape training: Trainer, callbacks, checkpoints, fine-tuning, gradient flow."""

from zoo.training.callbacks import Callback, EarlyStopping, LambdaCallback, ReduceLROnPlateau
from zoo.training.errors import CheckpointError, NonFiniteLossError
from zoo.training.fine_tuning import backbone_head_optimizer, freeze_up_to, replace_head, unfreeze
from zoo.training.gradient_flow import Heun
from zoo.training.loop import History
from zoo.training.optimizers import GroupedOptimizer
from zoo.training.options import CheckpointOptions, SummaryOptions
from zoo.training.trainer import Trainer

__all__ = [
    "Callback",
    "CheckpointError",
    "CheckpointOptions",
    "EarlyStopping",
    "GroupedOptimizer",
    "Heun",
    "History",
    "LambdaCallback",
    "NonFiniteLossError",
    "ReduceLROnPlateau",
    "SummaryOptions",
    "Trainer",
    "backbone_head_optimizer",
    "freeze_up_to",
    "replace_head",
    "unfreeze",
]
