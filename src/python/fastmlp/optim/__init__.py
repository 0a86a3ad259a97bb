"""Optimizers with PyTorch's argument names, defaults and update rules
(``fastmlp.optim``), and with Keras 3's (``fastmlp.optim.keras``)."""

from . import keras
from .base import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "keras", "get"]

# Names accepted by ``model.compile(optimizer=...)``: Keras classes with
# Keras's defaults, as in the reference notebooks.
_BY_NAME = {"sgd": keras.SGD}


def get(identifier) -> Optimizer:
    """An optimizer instance from a name ("sgd") or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; available: {', '.join(sorted(_BY_NAME))}")
        return cls()
    raise TypeError(f"optimizer must be a name or a fastmlp.optim optimizer, got {type(identifier).__name__}")
