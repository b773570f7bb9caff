"""The outer loop of `Trainer.fit`: epochs, validation, checkpoints, summaries, callbacks.

It calls the Trainer's compiled, replicated train step once per batch and owns everything
around it (orbit's split between a runner's step and its controller). Its position — epoch,
step within the epoch, the partial sums of the epoch so far, the history, the callbacks'
state — is saved with each checkpoint, so `fit(..., resume=True)` picks up at the exact batch.

Callbacks see what `model.fit` shows them: `set_model`/`set_params` first, then
`on_train_begin`, per epoch `on_epoch_begin`, `on_train_batch_begin/end(batch, logs)` (batch
counted from 0 within the epoch; logs the epoch's running loss and metrics), the validation's
`on_test_*` hooks, `on_epoch_end(epoch, logs)`, and `on_train_end(logs)`. Setting
`model.stop_training` (Keras' callbacks) or `trainer.stop_training` ends the run after the current
batch. During `fit`, `model.optimizer` is the Trainer's optimizer, so Keras' ReduceLROnPlateau,
TensorBoard and BackupAndRestore find it.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from zoo.training.callback_list import CallbackList, optimizer_on_model
from zoo.training.checkpointing import worker_role
from zoo.training.data import EpochData
from zoo.training.errors import NonFiniteLossError
from zoo.training.optimizers import get_learning_rate
from zoo.training.summaries import SummaryLogger


class History:
    """Per-epoch values of a `fit` run: `history.history["loss"][k]` is epoch k's loss."""

    def __init__(self, history: dict[str, list[float]] | None = None) -> None:
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}

    @property
    def epoch(self) -> list[int]:
        return list(range(len(next(iter(self.history.values()), []))))

    def append(self, logs: dict[str, float]) -> None:
        for name, value in logs.items():
            self.history.setdefault(name, []).append(float(value))

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


class FitLoop:
    """One `fit` call. Built by `Trainer.fit`; see its docstring for the arguments."""

    def __init__(
        self,
        trainer: Any,
        train: Any,
        validation: Any,
        *,
        epochs: int,
        batch_size: int,
        shuffle: bool,
        steps_per_epoch: int | None,
        validation_batch_size: int,
        callbacks: Sequence[Any],
        resume: bool,
        verbose: int,
    ) -> None:
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"`epochs` must be a positive integer. Received: epochs={epochs!r}")
        if not isinstance(resume, bool | str | os.PathLike):
            raise TypeError(
                "`resume` must be True, False or the path of a checkpoint (e.g. 'ckpt/ckpt-40'). "
                f"Received: resume={resume!r}"
            )
        if resume and trainer.checkpoint_dir is None:
            raise ValueError("`resume=True` needs the Trainer's `checkpoint_dir`. Received: None")
        self.trainer = trainer
        self.epochs = epochs
        self.resume = resume
        self.verbose = verbose
        seed = trainer.seed
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31))
        self.train_data = EpochData(
            train,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            steps_per_epoch=steps_per_epoch,
            name="train",
        )
        self.validation_data = (
            None
            if validation is None
            else EpochData(validation, batch_size=validation_batch_size, name="validation")
        )
        self.callbacks = CallbackList(
            callbacks,
            trainer=trainer,
            epochs=epochs,
            steps=self.train_data.steps_per_epoch,
            verbose=verbose,
        )
        self.state: dict[str, Any] = {
            "epoch": 0,
            "step": 0,
            "global_step": 0,
            "seed": seed,
            "partial": {"loss": 0.0, "count": 0.0, "grad_norm": 0.0, "steps": 0},
            "history": {},
            "callbacks": [],
            "stopped": False,
        }

    # ---------------------------------------------------------------- checkpoints

    def _restore(self) -> None:
        keeper = self.trainer._keeper
        if keeper is None:
            return
        if not self.resume:
            if keeper.latest is not None:
                warnings.warn(
                    f"{keeper.directory} already holds checkpoints and `resume=False`: training "
                    "starts from scratch and its checkpoints are added beside them.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return
        restored = keeper.restore(None if self.resume is True else os.fspath(self.resume))
        if restored is None:
            return
        path, values = restored
        self.state.update(values)
        self.train_data.seed = int(self.state["seed"])
        self.callbacks.set_states(self.state.get("callbacks", []))
        if self.verbose:
            print(
                f"Resumed from {path}: epoch {self.state['epoch'] + 1}, "
                f"step {self.state['step']} of it done."
            )

    def _save(self) -> str | None:
        keeper = self.trainer._keeper
        if keeper is None:
            return None
        self.state["callbacks"] = self.callbacks.get_states()
        return keeper.save(self.state, checkpoint_number=self.state["global_step"])

    # ---------------------------------------------------------------- the loop

    def _stopping(self) -> bool:
        model = self.trainer.model
        return bool(self.trainer.stop_training or getattr(model, "stop_training", False))

    def _epoch_set_by_callbacks(self) -> None:
        """Start at the epoch a callback's `on_train_begin` asked for (BackupAndRestore sets
        `model._initial_epoch`, which `model.fit` reads the same way)."""
        model = self.trainer.model
        initial = getattr(model, "_initial_epoch", None)
        if initial is None:
            return
        model._initial_epoch = None  # read once, as if it were an argument of this fit
        if int(initial) > self.state["epoch"]:
            steps = self.train_data.steps_per_epoch or 0
            self.state.update(
                epoch=int(initial),
                step=0,
                global_step=int(initial) * steps,
                partial={"loss": 0.0, "count": 0.0, "grad_norm": 0.0, "steps": 0},
            )
            self.trainer.global_step = self.state["global_step"]

    def run(self) -> History:
        trainer = self.trainer
        model = trainer.model
        trainer.build(self.train_data)
        self._restore()
        trainer.global_step = self.state["global_step"]
        history = History(self.state["history"])
        if self.state.get("stopped"):
            return history
        logger = None
        if trainer.log_dir and worker_role(trainer.strategy)[0]:  # summaries from the chief only
            logger = SummaryLogger(trainer.log_dir, trainer.summary_options)
        trainer.stop_training = False
        model.stop_training = False
        try:
            with optimizer_on_model(model, trainer.optimizer):
                self.callbacks.call("on_train_begin", None)
                self._epoch_set_by_callbacks()
                logs = None
                while self.state["epoch"] < self.epochs and not self._stopping():
                    logs = self._run_epoch()
                    self.callbacks.call("on_epoch_end", self.state["epoch"], logs)
                    history.append(logs)
                    self.state["history"] = history.history
                    if logger is not None:
                        logger.write_epoch(self.state["epoch"], logs, model)
                    self.state.update(
                        epoch=self.state["epoch"] + 1,
                        step=0,
                        partial={"loss": 0.0, "count": 0.0, "grad_norm": 0.0, "steps": 0},
                        stopped=self._stopping(),
                    )
                    self._save()
                self.callbacks.call("on_train_end", logs)
        finally:
            if logger is not None:
                logger.close()
        return history

    def _run_epoch(self) -> dict[str, float]:
        trainer = self.trainer
        epoch, skip = self.state["epoch"], self.state["step"]
        partial = self.state["partial"]
        if skip == 0:
            for metric in trainer.metrics:
                metric.reset_state()
        callbacks = self.callbacks
        callbacks.call("on_epoch_begin", epoch, None)
        steps = self.train_data.steps_per_epoch
        progbar = None
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.epochs}")
            progbar = keras.utils.Progbar(target=steps, verbose=self.verbose, stateful_metrics=None)
            if skip:
                progbar.update(skip, values=None)
        every = trainer.checkpoint_options.every_n_steps
        dataset = self.train_data.epoch_dataset(epoch, skip)
        remaining = None if steps is None else steps - skip
        save_due = False
        begin = callbacks.batch_begin("on_train_batch_begin")
        before_call = None
        if begin is not None:

            def before_call(size: int) -> None:
                # A call of `size` steps: each of its batches begins before it runs.
                for offset in range(size):
                    begin(self.state["step"] + offset)

        batch_logs = progbar is not None or callbacks.wants("on_train_batch_end")
        for outputs, at_call_end in trainer._train_steps(dataset, remaining, before_call):
            loss = outputs["loss"]
            self.state["step"] += 1
            self.state["global_step"] += 1
            trainer.global_step = self.state["global_step"]
            if not math.isfinite(loss):
                self._non_finite(loss)
            count = outputs["count"]
            partial["loss"] += loss * count
            partial["count"] += count
            partial["grad_norm"] += outputs["grad_norm"]
            partial["steps"] += 1
            if batch_logs:
                logs = trainer._metric_logs(partial["loss"] / partial["count"])
                callbacks.call("on_train_batch_end", self.state["step"] - 1, logs)
                if progbar is not None:
                    progbar.update(self.state["step"], values=list(logs.items()), finalize=False)
            if every and self.state["global_step"] % every == 0 and self.state["step"] != steps:
                save_due = True
            # With steps_per_execution > 1 the variables match the counters only at a call's end.
            if save_due and at_call_end:
                self._save()
                save_due = False
            if at_call_end and self._stopping():
                break
        if partial["steps"] == 0:
            raise ValueError(
                f"`train` is empty: epoch {epoch + 1} yielded no batch "
                f"(after skipping {skip} already-trained steps)."
            )
        logs = trainer._metric_logs(partial["loss"] / partial["count"])
        logs["learning_rate"] = get_learning_rate(trainer.optimizer)
        logs["grad_norm"] = partial["grad_norm"] / partial["steps"]
        if self.validation_data is not None:
            val_logs = trainer._evaluate(self.validation_data, callbacks)
            logs.update({f"val_{name}": value for name, value in val_logs.items()})
        if progbar is not None:
            progbar.update(self.state["step"], values=list(logs.items()), finalize=True)
        return logs

    def _non_finite(self, loss: float) -> None:
        keeper = self.trainer._keeper
        where = (
            f"The loss became {loss} at epoch {self.state['epoch'] + 1}, step "
            f"{self.state['step']} (global step {self.state['global_step']}); training stopped."
        )
        if keeper is not None and keeper.latest is not None:
            latest = keeper.latest
            keeper.checkpoint.restore(latest)
            raise NonFiniteLossError(
                f"{where} The last good checkpoint {latest} is kept and its weights were put back "
                "into the model; lower the learning rate or check the inputs, then call "
                "fit(..., resume=True)."
            )
        raise NonFiniteLossError(
            f"{where} No checkpoint had been saved (set `checkpoint_dir` and "
            "CheckpointOptions(every_n_steps=...) to keep one)."
        )
