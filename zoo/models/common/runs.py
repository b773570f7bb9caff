"""A training run's folder: checkpoints, TensorBoard logs, the best weights, and what was asked.

`zoo train NAME --output-dir DIR` trains in DIR: `DIR/checkpoints/<stage>/` (the Trainer's,
resumable), `DIR/logs/<stage>/` (TensorBoard), `DIR/best/<stage>.weights.h5` (the weights of the
best validation epoch so far, so early stopping's "restore the best weights" survives a kill), and
`DIR/run.json` (the recipe's arguments). Running the same command again resumes; running it with
other arguments in the same folder is an error, never a silent mix of two runs.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from zoo.training import Callback, Trainer

RUN_FILE = "run.json"


class RunFolder:
    """The folder of one training run (created on first use).

    Args:
        root: the folder.
        arguments: what defines the run (preset name, seed, epochs, ...): stored in `run.json`; a
            later run in the same folder must have the same, or it stops with an error.
    """

    def __init__(self, root: str | os.PathLike, arguments: dict[str, Any]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / RUN_FILE
        arguments = json.loads(json.dumps(arguments))
        if path.exists():
            try:
                stored = json.loads(path.read_text())
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{path} is not valid JSON ({error}); remove the folder."
                ) from None
            if stored != arguments:
                changed = sorted(
                    k for k in set(stored) | set(arguments) if stored.get(k) != arguments.get(k)
                )
                raise ValueError(
                    f"The run folder {self.root} (`zoo train --output-dir`, `zoo fine-tune "
                    "--run-dir`) holds a run with other arguments "
                    f"({', '.join(f'{k}={stored.get(k)!r}' for k in changed)}); this run asks for "
                    f"{', '.join(f'{k}={arguments.get(k)!r}' for k in changed)}. Use another "
                    "folder, or remove this one to start over."
                )
        else:
            path.write_text(json.dumps(arguments, indent=2, sort_keys=True) + "\n")

    def checkpoints(self, stage: str) -> Path:
        return self.root / "checkpoints" / stage

    def logs(self, stage: str) -> Path:
        return self.root / "logs" / stage

    def best_weights(self, stage: str) -> Path:
        return self.root / "best" / f"{stage}.weights.h5"


class KeepBestWeights(Callback):
    """Save the model's weights whenever `monitor` improves (to a file, so a resumed run keeps
    the best epoch of the run before the kill); `restore()` loads them at the end.

    Args:
        model: the model being trained.
        path: the `.weights.h5` file; its best value and epoch go to `<path>.json`.
        monitor: a key of the epoch logs ("val_loss"); lower is better.
    """

    def __init__(self, model: Any, path: str | os.PathLike, monitor: str = "val_loss") -> None:
        super().__init__()
        self.keras_model = model
        self.path = Path(path)
        self.monitor = monitor
        self.best = math.inf
        self.best_epoch: int | None = None
        record = self._record_path()
        if record.exists() and self.path.exists():
            stored = json.loads(record.read_text())
            self.best, self.best_epoch = float(stored["best"]), int(stored["epoch"])

    def _record_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not value < self.best:
            return
        self.best, self.best_epoch = float(value), int(epoch)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(".tmp-" + self.path.name)
        self.keras_model.save_weights(temporary)
        os.replace(temporary, self.path)
        self._record_path().write_text(json.dumps({"best": self.best, "epoch": self.best_epoch}))

    def restore(self) -> int | None:
        """Load the best weights seen (if any); return their epoch (0-based) or None."""
        if self.best_epoch is not None and self.path.exists():
            self.keras_model.load_weights(self.path)
        return self.best_epoch


def open_run(run_dir: str | os.PathLike | None, arguments: dict[str, Any]) -> RunFolder | None:
    """The run folder at `run_dir` for these arguments, or None when no folder was asked for."""
    return None if run_dir is None else RunFolder(run_dir, arguments)


def trainer_folders(run: RunFolder | None, stage: str) -> dict[str, Path | None]:
    """The Trainer's `checkpoint_dir` and `log_dir` for one stage of `run` (None without a run)."""
    if run is None:
        return {"checkpoint_dir": None, "log_dir": None}
    return {"checkpoint_dir": run.checkpoints(stage), "log_dir": run.logs(stage)}


def adam_trainer(
    model: Any, learning_rate: float, loss: Any, run: RunFolder | None, stage: str, seed: int
) -> Trainer:
    """A Trainer with Adam at `learning_rate` and `loss`, checkpointing and logging into `run`'s
    folders for `stage` (none without a run)."""
    import keras

    return Trainer(
        model=model,
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=loss,
        seed=seed,
        **trainer_folders(run, stage),
    )


def training_card(name: str, seed: int, epochs: int, default_epochs: int, recipe: dict) -> dict:
    """The card's "training" section of a preset trained by its recipe through the Trainer."""
    command = f"zoo train {name}"
    if seed != 0:
        command += f" --seed {seed}"
    if epochs != default_epochs:
        command += f" --epochs {epochs}"
    return {
        "command": command,
        "seed": seed,
        "loop": "zoo.training.Trainer (GradientTape, tf.function), checkpoints and TensorBoard "
        "logs in the run folder, resumable",
        "recipe": {**recipe, "max_epochs": epochs},
    }
