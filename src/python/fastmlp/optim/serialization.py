"""Optimizers from their configs: ``from_config(optimizer.get_config())``
rebuilds an optimizer of either namespace (``"Adam"`` is
``fastmlp.optim.Adam``, ``"keras.Adam"`` is ``fastmlp.optim.keras.Adam``),
with its hyperparameters and learning rate (a number or a serialized
``LearningRateSchedule``). The state (moments, step count) is not part of a
config: restore it with ``load_state_dict``."""

from __future__ import annotations

from . import keras as _keras
from . import schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .base import Optimizer
from .lion import Lion
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["OPTIMIZER_CLASSES", "from_config", "is_serializable"]

# get_config()["name"] -> class, for both namespaces ("Adam", "keras.Adam", ...).
OPTIMIZER_CLASSES: dict[str, type[Optimizer]] = {
    cls._public_name(): cls
    for cls in (
        Adadelta,
        Adagrad,
        Adam,
        AdamW,
        Adamax,
        Lion,
        NAdam,
        RAdam,
        RMSprop,
        SGD,
        *(getattr(_keras, name) for name in _keras.__all__),
    )
}


def is_serializable(optimizer: Optimizer) -> bool:
    """Whether ``from_config(optimizer.get_config())`` can rebuild it: false
    when its learning rate is a plain callable rather than a number or a
    ``fastmlp.optim.schedules.LearningRateSchedule``."""
    rate = optimizer.schedule
    return not callable(rate) or isinstance(rate, schedules.LearningRateSchedule)


def from_config(config: dict) -> Optimizer:
    """A new optimizer (without params, ready for ``model.compile``) from
    ``optimizer.get_config()``. Raises ValueError for an unknown class name, a
    learning rate that was a plain callable, or arguments the class rejects."""
    if not isinstance(config, dict):
        raise ValueError(f"an optimizer config is a dict (from get_config()), got {type(config).__name__}")
    name = config.get("name")
    cls = OPTIMIZER_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"unknown optimizer {name!r} in config; expected one of {', '.join(sorted(OPTIMIZER_CLASSES))}"
        )
    kwargs = {k: v for k, v in config.items() if k != "name"}
    argument = cls._lr_argument
    if argument not in kwargs:
        raise ValueError(f"{name} config has no {argument!r}")
    rate = kwargs[argument]
    if isinstance(rate, dict):
        kwargs[argument] = schedules.deserialize(rate)
    elif isinstance(rate, str):
        raise ValueError(
            f"{name} config: {argument} {rate} was a plain callable, which cannot be "
            "restored; use a fastmlp.optim.schedules.LearningRateSchedule"
        )
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"invalid {name} config: {exc}") from None
