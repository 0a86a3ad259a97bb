"""Layers. A layer describes itself; the model's C++ network holds its
parameters, and once the model is built a layer's weights (``kernel`` and
``bias``, ``gamma`` and ``beta``, ...) are NumPy views into the model's flat
parameter buffer (zero copy)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import regularizers

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")
KERNEL_INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros")


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
            raise RuntimeError("the layer has no weights until its model is built "
                               "(give the model input_dim/input_shape, or call fit)")
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
    def from_config(cls, config: dict) -> "Layer":
        config = {k: v for k, v in config.items() if k != "class_name"}
        return cls(**config)


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

    def __init__(self, units: int, activation: str | None = None,
                 kernel_initializer: str = "glorot_uniform", kernel_regularizer=None, name: str | None = None):
        super().__init__(name)
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
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def core_spec(self) -> dict:
        reg = self.kernel_regularizer
        return {"kind": "dense", "units": self.units, "activation": self.activation,
                "kernel_initializer": self.kernel_initializer,
                "l1": reg.l1 if reg else 0.0, "l2": reg.l2 if reg else 0.0}

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
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "kernel_initializer": self.kernel_initializer,
                "kernel_regularizer": self.kernel_regularizer.get_config() if self.kernel_regularizer else None}

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation!r})"


class BatchNormalization(Layer):
    """Batch normalization over the batch axis, as ``keras.layers.BatchNormalization``.

    Training: each feature is normalized with the batch's mean and (biased)
    variance, ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``, and the
    moving statistics follow ``moving = moving * momentum + batch * (1 - momentum)``.
    Inference (predict, evaluate): the moving statistics replace the batch's.
    gamma starts at 1, beta at 0, the moving mean at 0 and variance at 1.

    Args:
        momentum: Keras's default 0.99.
        epsilon: Keras's default 1e-3.
    """

    name_stem = "batch_normalization"
    weight_names = ("gamma", "beta", "moving_mean", "moving_variance")

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, name: str | None = None):
        super().__init__(name)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"Invalid momentum: {momentum!r} (must be in [0, 1])")
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not (epsilon > 0 and math.isfinite(epsilon)):
            raise ValueError(f"Invalid epsilon: {epsilon!r} (must be > 0)")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def core_spec(self) -> dict:
        return {"kind": "batch_norm", "momentum": self.momentum, "epsilon": self.epsilon}

    @property
    def trainable_count(self) -> int:
        return sum(v.size for v in self._views()[:2])  # gamma and beta; the moving statistics are not trained

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}

    def __repr__(self) -> str:
        return f"BatchNormalization(momentum={self.momentum}, epsilon={self.epsilon})"


class Dropout(Layer):
    """Inverted dropout, as ``keras.layers.Dropout``: in training each value is
    zeroed with probability ``rate`` and the rest scaled by 1 / (1 - rate);
    at inference it passes values through. Masks come from the model's seed,
    so seeded training stays reproducible.

    Args:
        rate: fraction dropped, in [0, 1).
    """

    name_stem = "dropout"

    def __init__(self, rate: float, name: str | None = None):
        super().__init__(name)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Invalid rate: {rate!r} (must be in [0, 1))")
        self.rate = float(rate)

    def core_spec(self) -> dict:
        return {"kind": "dropout", "rate": self.rate}

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


class Flatten(Layer):
    """Flattens each sample to one row. Batches are flattened on the way in
    (see ``Sequential(input_shape=...)``), so this layer runs nothing; it is
    accepted for Keras-shaped model definitions."""

    name_stem = "flatten"

    def core_spec(self) -> None:
        return None

    def __repr__(self) -> str:
        return "Flatten()"


LAYER_CLASSES = {cls.__name__: cls for cls in (Dense, BatchNormalization, Dropout, Flatten)}


def from_config(config: dict) -> Layer:
    """A layer from ``layer.get_config()``."""
    if not isinstance(config, dict) or config.get("class_name") not in LAYER_CLASSES:
        raise ValueError(f"not a fastmlp layer config: {config!r}")
    return LAYER_CLASSES[config["class_name"]].from_config(config)
