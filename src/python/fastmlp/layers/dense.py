"""Dense: the fully connected layer."""

from __future__ import annotations

import numpy as np

from .. import regularizers
from .base import KERNEL_INITIALIZERS, Layer, check_activation


class Dense(Layer):
    """Fully connected layer: ``y = activation(x @ kernel + bias)``, with
    ``kernel`` of shape (inputs, units) as in Keras.

    Args:
        units: output width, >= 1.
        activation: "linear" (or None), "relu", "sigmoid", "tanh", "softmax".
        kernel_initializer: "glorot_uniform" (Keras's default), "glorot_normal",
            "he_uniform", "he_normal" or "zeros". Biases start at zero.
        kernel_regularizer: ``fastmlp.regularizers.L2(1e-4)``, ``L1``, ``L1L2``:
            its penalty is added to the loss, its gradient to the kernel's.
        name: shown by ``model.summary()``.
    """

    name_stem = "dense"
    weight_names = ("kernel", "bias")

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        kernel_initializer: str = "glorot_uniform",
        kernel_regularizer=None,
        name: str | None = None,
    ):
        super().__init__(name)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)):
            raise TypeError(f"units must be an int, got {type(units).__name__}")
        if units < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        activation = check_activation(activation)
        if kernel_initializer not in KERNEL_INITIALIZERS:
            raise ValueError(
                f"unknown kernel_initializer {kernel_initializer!r}; expected one of {', '.join(KERNEL_INITIALIZERS)}"
            )
        self.units = int(units)
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def core_spec(self) -> dict:
        reg = self.kernel_regularizer
        return {
            "kind": "dense",
            "units": self.units,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
            "l1": reg.l1 if reg else 0.0,
            "l2": reg.l2 if reg else 0.0,
        }

    def output_width(self, width: int) -> int:
        return self.units

    @property
    def kernel(self) -> np.ndarray:
        """The (inputs, units) weights: a live view into the model's parameters."""
        return self._views()[0]

    @property
    def bias(self) -> np.ndarray:
        """The (units,) biases: a live view into the model's parameters."""
        return self._views()[1]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
            "kernel_regularizer": self.kernel_regularizer.get_config() if self.kernel_regularizer else None,
        }

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation!r})"
