"""Running the comparison: data, the model, one training run per
(optimizer, seed), and what is recorded about each run and the machine."""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from typing import Callable

import numpy as np

from ..machine import cpu_identity, cpu_model
from .spec import OptimizerSpec, ScheduleSpec, base_learning_rate


@dataclasses.dataclass
class CompareConfig:
    """Everything a comparison depends on (``results.json``'s "config")."""

    optimizers: Sequence[OptimizerSpec]
    epochs: int = 5
    batch_size: int = 32
    hidden: Sequence[int] = (300, 100)
    dropout: float = 0.0
    batch_norm: bool = False
    l2: float = 0.0
    schedule: ScheduleSpec | None = None
    repeats: int = 1
    seed: int = 0
    validation: float = 5000  # int >= 0: the first N training images; float in (0, 1): the last fraction
    target_accuracy: float = 0.97
    dataset: str = "mnist"
    data: str | None = None
    out: str = "fastmlp-compare"
    threads: int | None = None
    limit: int | None = None  # use only the first N training images (tests)

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.repeats))

    def to_json(self) -> dict:
        return {
            "optimizers": [s.text for s in self.optimizers],
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "hidden": list(self.hidden),
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "l2": self.l2,
            "schedule": self.schedule.text if self.schedule else None,
            "repeats": self.repeats,
            "seeds": self.seeds,
            "validation": self.validation,
            "target_accuracy": self.target_accuracy,
            "dataset": self.dataset,
            "data": self.data,
            "out": self.out,
            "threads": self.threads,
            "limit": self.limit,
        }


# ------------------------------------------------------------------- data
def load_dataset(config: CompareConfig):
    """(x_train, y_train), (x_val, y_val) or None, (x_test, y_test) as float32
    in [0, 1]; see ``fastmlp.datasets.splits.load_scaled``."""
    from ..datasets.splits import load_scaled

    return load_scaled(config.dataset, config.data, config.validation, config.limit)


# ------------------------------------------------------------------ model
def build_model(
    hidden: Sequence[int],
    dropout: float = 0.0,
    batch_norm: bool = False,
    l2: float = 0.0,
    seed: int = 0,
    input_shape=(28, 28),
    classes: int = 10,
):
    """The compared network, laid out as in reference 002::

        Dense(hidden[0], relu, kernel_regularizer=L2(l2))   L2 only if l2 > 0
        BatchNormalization()                                only if batch_norm
        Dense(hidden[1], relu) ... Dense(hidden[-1], relu)
        Dropout(dropout)                                    only if dropout > 0
        Dense(classes, softmax)

    With the defaults (no dropout, batch norm or L2) this is reference 000's
    MLP (784-300-100-10). The L2 penalty and the batch normalization go with
    the first hidden layer and the dropout after the last, as in reference
    002 (Dense 300 relu L2, BatchNormalization, Dense 100 relu, Dropout 0.2,
    Dense 10 softmax).
    """
    import fastmlp
    from fastmlp import layers, regularizers

    if not hidden:
        raise ValueError("hidden must name at least one layer width")
    model_layers = []
    for i, width in enumerate(hidden):
        regularizer = regularizers.L2(l2) if i == 0 and l2 else None
        model_layers.append(layers.Dense(width, activation="relu", kernel_regularizer=regularizer))
        if i == 0 and batch_norm:
            model_layers.append(layers.BatchNormalization())
    if dropout:
        model_layers.append(layers.Dropout(dropout))
    model_layers.append(layers.Dense(classes, activation="softmax"))
    return fastmlp.Sequential(model_layers, input_shape=input_shape, seed=seed)


# ---------------------------------------------------------------- machine
def machine_info() -> dict:
    import fastmlp

    info = {
        "cpu": cpu_model(),
        "cpu_identity": cpu_identity(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "fastmlp": fastmlp.__version__,
        "threads": fastmlp.get_num_threads(),
        "build_info": dict(fastmlp.build_info()),
    }
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        import matplotlib

        info["matplotlib"] = matplotlib.__version__
    except ImportError:
        info["matplotlib"] = None
    if hasattr(os, "getloadavg"):
        info["load_average_start"] = list(os.getloadavg())
    info["other_runnable_start"] = other_runnable()
    return info


def other_runnable() -> int | None:
    """Threads of other processes that are ready to run now (Linux; None elsewhere):
    the least of a few samples of /proc/loadavg's running count, less this
    process's calling thread, so that brief activity does not count."""
    samples = []
    for k in range(5):
        try:
            with open("/proc/loadavg") as f:
                samples.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return None
        if k < 4:
            time.sleep(0.02)
    return max(min(samples), 0)


def _warn_if_busy(machine: dict, log) -> None:
    """Other processes' threads make OpenMP's barriers wait for time slices:
    on a fully loaded machine an epoch can take many times longer."""
    others = machine.get("other_runnable_start")
    cores = machine.get("usable_cores") or machine.get("cores") or 1
    if others and machine.get("threads", 1) + others > cores:
        log(
            f"note: other processes are using the CPU ({others} runnable thread(s) besides this one, "
            f"{cores} cores); training threads that compete with them can make epochs many times slower "
            "and the timings noisy (--threads 1 is more robust there)"
        )


# -------------------------------------------------------------------- run
def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


def train_one(spec: OptimizerSpec, seed: int, config: CompareConfig, data, verbose: int = 0) -> dict:
    """One training run; returns its ``results.json`` entry."""
    (x_train, y_train), val, (x_test, y_test) = data
    others_before = other_runnable()
    cpu_start = time.process_time()
    start = time.perf_counter()
    optimizer = spec.build()
    if config.schedule is not None:
        optimizer.learning_rate = config.schedule(base_learning_rate(optimizer))
    model = build_model(
        config.hidden, config.dropout, config.batch_norm, config.l2, seed, input_shape=x_train.shape[1:], classes=10
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    initial_lr = optimizer.learning_rate
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "lr": [], "epoch_time": []}
    for _ in range(config.epochs):
        # One fit call per epoch, to read the learning rate after each epoch;
        # the model's epoch counter keeps shuffling seeds distinct across calls.
        logs = model.fit(
            x_train, y_train, batch_size=config.batch_size, epochs=1, verbose=verbose, validation_data=val
        ).history
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_time"):
            values = logs.get(key)
            history[key].append(_finite_or_none(values[-1]) if values else None)
        history["lr"].append(float(optimizer.learning_rate))
        if history["loss"][-1] is None:  # diverged: further epochs are meaningless
            break
    test_loss, test_accuracy = model.evaluate(x_test, y_test)
    wall_time = time.perf_counter() - start
    cpu_time = time.process_time() - cpu_start
    others = [n for n in (others_before, other_runnable()) if n is not None]
    params = model.count_params()
    trainable = int(np.asarray(model.weights).size)  # the flat buffer the optimizer updates
    return {
        "optimizer": spec.text,
        "optimizer_config": optimizer.get_config(),
        "seed": seed,
        "history": history,
        "initial_lr": float(initial_lr),
        "test_loss": _finite_or_none(test_loss),
        "test_accuracy": float(test_accuracy),
        "optimizer_state_bytes": int(optimizer.state_bytes()),
        "params": int(params),
        "trainable_params": trainable,
        "wall_time": wall_time,
        "cpu_time": cpu_time,
        # other processes' runnable threads at the run's start and end (None: not measurable here)
        "other_runnable": others or None,
    }


def run_comparison(config: CompareConfig, log: Callable[[str], None] = print, verbose: int = 0) -> dict:
    """Train every optimizer with every seed; returns the ``results.json`` dict.

    Seeds are the outer loop, so slow drifts in machine load spread over all
    optimizers instead of landing on one."""
    import fastmlp

    if config.threads:
        fastmlp.set_num_threads(config.threads)
    data = load_dataset(config)
    (x_train, _), val, (x_test, _) = data
    n_val = 0 if val is None else len(val[0])
    steps = -(-len(x_train) // config.batch_size)
    widths = "-".join(map(str, [int(np.prod(x_train.shape[1:])), *config.hidden, 10]))
    extras = [
        f"dropout {config.dropout}" if config.dropout else "",
        "batch norm" if config.batch_norm else "",
        f"L2 {config.l2}" if config.l2 else "",
        f"schedule {config.schedule.text}" if config.schedule else "",
    ]
    extras = ", ".join(e for e in extras if e)
    log(
        f"fastmlp compare: {config.dataset}, MLP {widths}{' (' + extras + ')' if extras else ''}, "
        f"{len(config.optimizers)} optimizer(s) x {config.repeats} seed(s), {config.epochs} epoch(s) of "
        f"batch {config.batch_size} ({steps:,} updates per epoch), {len(x_train):,} training / {n_val:,} "
        f"validation / {len(x_test):,} test images, {fastmlp.get_num_threads()} thread(s)"
    )
    machine = machine_info()
    _warn_if_busy(machine, log)
    # An untimed warm-up (thread pool, page faults, first calls) so that the
    # first timed run does not pay one-time costs the others skip.
    warm = build_model(
        config.hidden, config.dropout, config.batch_norm, config.l2, 0, input_shape=x_train.shape[1:], classes=10
    )
    warm.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    warm.fit(
        x_train[:1024],
        data[0][1][:1024],
        batch_size=config.batch_size,
        epochs=1,
        verbose=0,
        validation_data=None if val is None else (val[0][:256], val[1][:256]),
    )
    runs = []
    total = len(config.optimizers) * config.repeats
    width = max(len(s.text) for s in config.optimizers)
    for seed in config.seeds:
        for spec in config.optimizers:
            run = train_one(spec, seed, config, data, verbose=verbose)
            runs.append(run)
            log(
                f"[{len(runs)}/{total}] {spec.text:<{width}}  seed {seed}  test accuracy "
                f"{run['test_accuracy']:.4f}  ({run['wall_time']:.2f} s)"
            )
    if hasattr(os, "getloadavg"):
        machine["load_average_end"] = list(os.getloadavg())
    machine["other_runnable_end"] = other_runnable()
    return {"config": config.to_json(), "runs": runs, "machine": machine}
