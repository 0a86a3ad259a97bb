"""The base class of every layer, and the names layers accept."""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")
KERNEL_INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros")


def check_activation(activation) -> str:
    """`activation` as the core names it ("linear" for None); a ValueError naming it if unknown."""
    activation = "linear" if activation is None else activation
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    return activation


class Layer:
    """Base class: naming, attachment to a built model, weight views."""

    # Keras's default name stem ("dense", "dropout", ...).
    name_stem = "layer"
    # Names of the arrays `layer_params` returns, in Keras's get_weights order.
    weight_names: tuple[str, ...] = ()

    def __init__(self, name: str | None = None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        self.name = name
        self._network = None
        self._index = None

    # --- building (called by the model)
    def core_spec(self) -> dict | None:
        """The layer as the C++ core builds it (None: nothing to run)."""
        raise NotImplementedError

    def output_width(self, width: int) -> int:
        return width

    def _attach(self, network, index: int | None, name: str) -> None:
        self._network = network
        self._index = index
        if self.name is None:
            self.name = name

    @property
    def built(self) -> bool:
        return self._network is not None

    # --- weights
    def _views(self) -> tuple:
        if not self.built:
            raise RuntimeError(
                "the layer has no weights until its model is built (give the model input_dim/input_shape, or call fit)"
            )
        return () if self._index is None else tuple(self._network.layer_params(self._index))

    @property
    def weights(self) -> list[np.ndarray]:
        """Live views of this layer's arrays, in Keras's get_weights order."""
        return list(self._views())

    @property
    def count_params(self) -> int:
        return sum(v.size for v in self._views())

    @property
    def trainable_count(self) -> int:
        return self.count_params

    # --- config
    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        config = {k: v for k, v in config.items() if k != "class_name"}
        return cls(**config)
