"""Layers. A layer describes itself; the model's C++ network holds its
parameters, and once the model is built a layer's weights (``kernel`` and
``bias``, ``gamma`` and ``beta``, ...) are NumPy views into the model's flat
parameter buffer (zero copy).

One module per layer kind: ``dense``, ``batch_normalization``, ``dropout``,
``flatten``, ``activation``; ``base`` holds the ``Layer`` base class and the
activation and initializer names."""

from __future__ import annotations

from .activation import Activation
from .base import ACTIVATIONS, KERNEL_INITIALIZERS, Layer
from .batch_normalization import BatchNormalization
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten

# The classes a saved model's layer configs may name (fastmlp.saving).
LAYER_CLASSES = {cls.__name__: cls for cls in (Dense, BatchNormalization, Dropout, Flatten, Activation)}


def from_config(config: dict) -> Layer:
    """A layer from ``layer.get_config()``."""
    if not isinstance(config, dict) or config.get("class_name") not in LAYER_CLASSES:
        raise ValueError(f"not a fastmlp layer config: {config!r}")
    return LAYER_CLASSES[config["class_name"]].from_config(config)


__all__ = [
    "ACTIVATIONS",
    "KERNEL_INITIALIZERS",
    "LAYER_CLASSES",
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "from_config",
]
