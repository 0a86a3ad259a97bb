"""Layers. A layer describes itself; the model's C++ network holds its
parameters, and after ``build`` the layer's ``kernel`` and ``bias`` are
NumPy views into the model's flat parameter buffer (zero copy)."""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")
KERNEL_INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros")


class Dense:
    """Fully connected layer: ``y = activation(x @ kernel + bias)``, with
    ``kernel`` of shape (inputs, units) as in Keras.

    Args:
        units: output width, >= 1.
        activation: "linear" (or None), "relu", "sigmoid", "tanh", "softmax".
        kernel_initializer: "glorot_uniform" (Keras's default), "glorot_normal",
            "he_uniform", "he_normal" or "zeros". Biases start at zero.
        name: shown by ``model.summary()``.
    """

    def __init__(self, units: int, activation: str | None = None,
                 kernel_initializer: str = "glorot_uniform", name: str | None = None):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)):
            raise TypeError(f"units must be an int, got {type(units).__name__}")
        if units < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        activation = "linear" if activation is None else activation
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
        if kernel_initializer not in KERNEL_INITIALIZERS:
            raise ValueError(f"unknown kernel_initializer {kernel_initializer!r}; "
                             f"expected one of {', '.join(KERNEL_INITIALIZERS)}")
        self.units = int(units)
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.name = name
        self._network = None
        self._index = None

    def _attach(self, network, index: int, name: str) -> None:
        self._network = network
        self._index = index
        if self.name is None:
            self.name = name

    @property
    def built(self) -> bool:
        return self._network is not None

    @property
    def kernel(self) -> np.ndarray:
        """The (inputs, units) weights: a live view into the model's parameters."""
        return self._views()[0]

    @property
    def bias(self) -> np.ndarray:
        """The (units,) biases: a live view into the model's parameters."""
        return self._views()[1]

    @property
    def count_params(self) -> int:
        if not self.built:
            raise RuntimeError(f"layer {self.name or 'Dense'} is not built yet")
        w, b = self._views()
        return w.size + b.size

    def _views(self):
        if not self.built:
            raise RuntimeError("the layer has no weights until its model is built "
                               "(give the model input_dim/input_shape, or call fit)")
        return self._network.layer_params(self._index)

    def get_config(self) -> dict:
        return {"units": self.units, "activation": self.activation,
                "kernel_initializer": self.kernel_initializer, "name": self.name}

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation!r})"
