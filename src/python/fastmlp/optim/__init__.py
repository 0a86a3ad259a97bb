"""Optimizers as fused C++ kernels over float32 buffers.

``fastmlp.optim`` follows PyTorch (``torch.optim``'s names, defaults and update
rules, plus Lion after its paper); ``fastmlp.optim.keras`` follows Keras 3.
Learning rates are floats or schedules (``fastmlp.optim.schedules``).
"""

from . import keras, schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .base import Optimizer
from .clip import clip_grad_norm_, clip_grad_value_
from .lion import Lion
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .serialization import from_config
from .sgd import SGD

__all__ = [
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Lion",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "SGD",
    "clip_grad_norm_",
    "clip_grad_value_",
    "from_config",
    "get",
    "keras",
    "schedules",
]

# Names accepted by ``model.compile(optimizer=...)``: the Keras classes with
# Keras's defaults, as in the reference notebooks.
_BY_NAME = {
    "sgd": keras.SGD,
    "adam": keras.Adam,
    "rmsprop": keras.RMSprop,
    "adagrad": keras.Adagrad,
    "adamw": keras.AdamW,
    "adamax": keras.Adamax,
    "nadam": keras.Nadam,
    "adadelta": keras.Adadelta,
    "lion": keras.Lion,
}


def get(identifier) -> Optimizer:
    """An optimizer instance from a name ("sgd", "adam", ...) or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; available: {', '.join(sorted(_BY_NAME))}")
        return cls()
    raise TypeError(f"optimizer must be a name or a fastmlp.optim optimizer, got {type(identifier).__name__}")
