"""Keras-style callbacks for ``Sequential.fit(..., callbacks=[...])``.

The hooks and their arguments follow Keras 3 (``keras.callbacks``), with one
difference in granularity: fastmlp runs a whole epoch in one C++ call, so
there are no per-batch hooks; everything happens at train and epoch
boundaries.

``fit`` calls, in order::

    on_train_begin(logs={})
    for each epoch:
        on_epoch_begin(epoch, logs={})
        ... the epoch runs in C++, then validation ...
        on_epoch_end(epoch, logs)      # logs: loss, accuracy, val_loss,
                                       # val_accuracy, learning_rate, epoch_time
        (History records logs; fit stops if model.stop_training was set)
    on_train_end(logs)                 # the last epoch's logs

Callbacks run in the order given, and all of them see (and may add to) the
same ``logs`` dict; ``History`` records it after them, as in Keras.
``epoch`` is 0-based. ``learning_rate`` is the optimizer's rate after the
epoch (the rate of the next update).
"""

from __future__ import annotations

import csv
import inspect
import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterable

import numpy as np

from ._files import atomic_write

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]


class Callback:
    """Base class: override any of the hooks.

    ``self.model`` is the model being trained (set by ``fit`` through
    ``set_model``); set ``self.model.stop_training = True`` to end training
    after the current epoch. ``self.params`` holds fit's parameters
    (``batch_size``, ``epochs``, ``samples``, ``steps``, ``verbose``).
    """

    def __init__(self):
        self.params: dict = {}
        self._model = None

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self._model = model

    @property
    def model(self):
        return self._model

    def on_train_begin(self, logs=None):
        """Called once, before the first epoch."""

    def on_train_end(self, logs=None):
        """Called once, after the last epoch (logs: the last epoch's logs)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called before each epoch (0-based `epoch`)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch's training and validation, with its logs."""


class CallbackList(Callback):
    """Calls each hook on a list of callbacks, in order, with the same logs dict."""

    def __init__(self, callbacks: Iterable[Callback] | None = None, model=None, **params):
        super().__init__()
        self.callbacks: list[Callback] = validate_callbacks(callbacks)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(validate_callbacks([callback])[0])

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model) -> None:
        super().set_model(model)
        for callback in self.callbacks:
            callback.set_model(model)

    def on_train_begin(self, logs=None):
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)


def validate_callbacks(callbacks) -> list[Callback]:
    """`callbacks` as a new list, checked to be a list (or tuple) of Callback instances."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        raise TypeError(
            "callbacks must be a list of fastmlp.callbacks.Callback instances; "
            f"got a single {type(callbacks).__name__} (wrap it in a list)"
        )
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"callbacks must be a list of fastmlp.callbacks.Callback instances, got {type(callbacks).__name__}"
        )
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks[{i}] is a {type(callback).__name__}, not a fastmlp.callbacks.Callback")
    return list(callbacks)


# --------------------------------------------------------------- helpers
def _check_mode(owner: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner} mode {mode!r} is unknown, fallback to auto mode.", stacklevel=3)
        return "auto"
    return mode


def _direction(owner: str, monitor: str, mode: str) -> str:
    """ "min" or "max" for `monitor`: as given, or (auto) inferred from its name
    as Keras does for fastmlp's metrics: losses fall, accuracy rises."""
    if mode in ("min", "max"):
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "min"
    if name in ("accuracy", "acc") or name.endswith("_accuracy"):
        return "max"
    raise ValueError(
        f"{owner} callback received monitor={monitor!r} but cannot tell whether that "
        "metric should be maximized or minimized. Pass mode='max' in order to use the "
        "highest value, or mode='min' in order to use the lowest value."
    )


def _scalar(value):
    """A monitored log value as a float, or None when missing / not a scalar number."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _current_learning_rate(optimizer) -> float:
    return float(optimizer.learning_rate)


def _has_schedule(optimizer) -> bool:
    return callable(getattr(optimizer, "schedule", None))


def _print(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------- EarlyStopping
class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving (Keras 3).

    Args:
        monitor: the logs key to watch (default "val_loss").
        min_delta: an absolute change smaller than this is no improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints when training stops and when weights are restored.
        mode: "min", "max" or "auto" (inferred from the name: losses are
            minimized, accuracy maximized; other names need an explicit mode).
        baseline: training stops after `patience` epochs unless the quantity
            beats this value.
        restore_best_weights: at the end of training (stopped early or not),
            load the weights of the epoch with the best monitored value.
        start_from_epoch: epochs to wait before monitoring starts.

    Attributes after fit: ``stopped_epoch`` (0-based; 0 when it did not
    stop), ``best``, ``best_epoch``, ``wait``.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = _check_mode("EarlyStopping", mode)
        self._direction = _direction("EarlyStopping", monitor, self.mode)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _is_improvement(self, value: float, reference) -> bool:
        if reference is None:
            return True
        if self._direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, logs=None):
        self._reset()  # instances may be reused across fits

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        current = _scalar(logs.get(self.monitor))
        if current is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs)}",
                stacklevel=2,
            )
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # The first monitored epoch's weights are the best so far.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Restart the wait only when the value also beats the baseline.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


# -------------------------------------------------------- ModelCheckpoint
class ModelCheckpoint(Callback):
    """Save the model (or its weights) after every epoch, or after the best ones (Keras 3).

    Args:
        filepath: where to save; may hold format fields filled with the
            1-based epoch and the logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.4f}"``.
            Missing folders are created.
        monitor: the logs key that decides what "best" is (save_best_only).
        verbose: 1 prints a line per decision.
        save_best_only: save only when `monitor` improves on the best value so
            far (if `filepath` has no format fields, each better model
            overwrites the last). A missing monitor value saves, with a warning.
        save_weights_only: write only the ``get_weights()`` arrays, with
            ``np.savez``, to exactly `path` (no ".npz" is appended), atomically.
        mode: "min", "max" or "auto" (losses minimized, accuracy maximized).

    Without save_weights_only the whole model is saved with ``model.save(path)``.
    Unlike Keras, the file name's extension is not checked.
    """

    def __init__(
        self,
        filepath,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
    ):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _check_mode("ModelCheckpoint", mode)
        # The direction matters only to save_best_only; checked now so a bad monitor fails early.
        self._direction = _direction("ModelCheckpoint", monitor, self.mode) if save_best_only else None
        self.best = None  # kept across fits, as in Keras

    def _is_improvement(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self._direction == "min" else value > self.best

    def _file_path(self, epoch: int, logs: dict) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as error:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {error}') from None

    def _should_save(self, epoch: int, logs: dict, path: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"Epoch {epoch + 1}: saving model to {path}")
            return True
        current = _scalar(logs.get(self.monitor))
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current):
            if self.verbose > 0:
                _print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving model to {path}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._file_path(epoch, logs)
        if not self._should_save(epoch, logs, path):
            return
        if os.path.isdir(path):
            raise IsADirectoryError(
                f"Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {path}"
            )
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            with atomic_write(path) as handle:
                np.savez(handle, *self.model.get_weights())
        else:
            self.model.save(path)


# ------------------------------------------------------- ReduceLROnPlateau
class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` has not improved
    for `patience` epochs (Keras 3).

    Args:
        monitor: the logs key to watch.
        factor: ``new_lr = max(lr * factor, min_lr)``; must be in (0, 1).
        patience: epochs without improvement before a reduction.
        verbose: 1 prints each reduction.
        mode: "min", "max" or "auto" (as Keras: "max" when "acc" is in the
            name, else "min").
        min_delta: an improvement must beat the best value by more than this.
        cooldown: epochs after a reduction during which no new reduction is
            counted towards.
        min_lr: the learning rate is never reduced below this.

    The new rate is set with ``model.optimizer.learning_rate = new_lr`` and
    applies from the next epoch. If the optimizer's learning rate is a
    schedule (a callable of the step), the callback warns once and leaves it
    alone (Keras raises instead: a schedule's rate is not settable).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ):
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau needs 0 < factor < 1. Received factor={factor}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = patience
        self.verbose = verbose
        self.mode = _check_mode("ReduceLROnPlateau", mode)
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self._warned_schedule = False
        self._reset()

    def _reset(self) -> None:
        if self.mode == "min" or (self.mode == "auto" and "acc" not in self.monitor):
            self._better = lambda a, b: a < b - self.min_delta
            self.best = math.inf
        else:
            self._better = lambda a, b: a > b + self.min_delta
            self.best = -math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        current = _scalar(logs.get(self.monitor))
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which "
                f"is not available. Available metrics are: {','.join(logs)}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                self._reduce(epoch)

    def _reduce(self, epoch: int) -> None:
        optimizer = self.model.optimizer
        if _has_schedule(optimizer):
            if not self._warned_schedule:
                warnings.warn(
                    "ReduceLROnPlateau: the optimizer's learning rate is a schedule; it is "
                    "left unchanged (give the optimizer a float learning rate to reduce it)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self._warned_schedule = True
            return
        old_lr = _current_learning_rate(optimizer)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            if new_lr <= 0.0:  # optimizers take only positive rates
                return
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                _print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0


# --------------------------------------------------- LearningRateScheduler
def _takes_two_arguments(function) -> bool | None:
    """Whether `function` can be called with (epoch, lr); None if unknown."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(0, 0.0)
        return True
    except TypeError:
        return False


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch (Keras 3).

    Args:
        schedule: ``schedule(epoch, lr) -> new_lr`` (0-based epoch, the
            current rate as a float), or ``schedule(epoch) -> new_lr``.
        verbose: 1 prints each new rate.

    The rate is set with ``model.optimizer.learning_rate = new_lr``, so it
    must be a positive number. If the optimizer was given a schedule (a
    callable of the step), the callback's rates replace it (with a warning).
    """

    def __init__(self, schedule: Callable, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be callable, got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose
        self._two_arguments = _takes_two_arguments(schedule)

    def _new_rate(self, epoch: int, lr: float):
        if self._two_arguments is None:  # no signature: try Keras's way, then the old API
            try:
                return self.schedule(epoch, lr)
            except TypeError:
                return self.schedule(epoch)
        return self.schedule(epoch, lr) if self._two_arguments else self.schedule(epoch)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        rate = self._new_rate(epoch, _current_learning_rate(optimizer))
        if isinstance(rate, bool) or not isinstance(rate, (numbers.Real, np.floating, np.integer)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {rate!r}")
        rate = float(rate)
        if not (math.isfinite(rate) and rate > 0.0):
            raise ValueError(
                f"LearningRateScheduler: schedule({epoch}) returned {rate}; "
                "the learning rate must be a finite number > 0"
            )
        if _has_schedule(optimizer):
            warnings.warn(
                "LearningRateScheduler replaces the optimizer's learning-rate schedule with its own values",
                RuntimeWarning,
                stacklevel=2,
            )
        optimizer.learning_rate = rate
        if self.verbose > 0:
            _print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")


# ----------------------------------------------------------- TerminateOnNaN
class TerminateOnNaN(Callback):
    """Stop training when the loss is NaN or infinite.

    Keras checks after every batch; fastmlp trains an epoch per C++ call, so
    this checks the epoch's mean loss at the end of each epoch (a NaN or Inf
    in any batch makes that mean NaN or Inf). ``fit`` also stops by itself
    on a non-finite loss; this callback makes the stop explicit and sets
    ``model.stop_training``.
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = _scalar((logs or {}).get("loss"))
        if loss is not None and not math.isfinite(loss):
            _print(f"Epoch {epoch + 1}: Invalid loss, terminating training")
            self.model.stop_training = True


# ---------------------------------------------------------------- CSVLogger
class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (0-based, as Keras) then the
    logs' keys in sorted order (the columns are fixed by the first epoch; a
    key missing later is written as "NA"). The file is flushed every epoch.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: append to an existing file (the header is written only if
            the file is empty or new); otherwise overwrite it.

    Unlike Keras, no empty ``val_*`` columns are added when there is no
    validation data (fastmlp validates every epoch or never).
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.writer = None
        self.csv_file = None
        self._write_header = True

    def on_train_begin(self, logs=None):
        if self.append:
            self._write_header = True
            if os.path.exists(self.filename):
                with open(self.filename, newline="") as existing:
                    self._write_header = not existing.readline()
            mode = "a"
        else:
            self._write_header = True
            mode = "w"
        self._close()
        self.csv_file = open(self.filename, mode, newline="")
        self.writer = None
        self.keys = None

    @staticmethod
    def _cell(value):
        if isinstance(value, str):
            return value
        if isinstance(value, np.ndarray) and value.ndim == 0:
            return value.item()
        if isinstance(value, Iterable):
            return f"[{', '.join(map(str, value))}]"
        return value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if self.writer is None:
            separator = self.sep

            class Dialect(csv.excel):
                delimiter = separator

            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch"] + self.keys, dialect=Dialect, extrasaction="ignore"
            )
            if self._write_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, self._cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()

    def on_train_end(self, logs=None):
        self._close()
        self.writer = None


# ----------------------------------------------------------- LambdaCallback
class LambdaCallback(Callback):
    """A callback from plain functions, called positionally as Keras does:
    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``,
    ``on_train_begin(logs)``, ``on_train_end(logs)``. Hooks left None do nothing."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None):
        super().__init__()
        for name, function in (
            ("on_epoch_begin", on_epoch_begin),
            ("on_epoch_end", on_epoch_end),
            ("on_train_begin", on_train_begin),
            ("on_train_end", on_train_end),
        ):
            if function is not None:
                if not callable(function):
                    raise TypeError(f"{name} must be callable, got {type(function).__name__}")
                setattr(self, name, function)
