"""Activation: an activation function as a layer of its own."""

from __future__ import annotations

from .base import Layer, check_activation


class Activation(Layer):
    """Applies an activation function to its input, as ``keras.layers.Activation``:
    ``y = activation(x)`` value by value (softmax row by row). It has no weights
    and keeps the width.

    ``Dense(n)`` followed by ``Activation(f)`` computes what ``Dense(n, activation=f)``
    does, with the same bits. The cross-entropy losses are the exception: they
    need the softmax inside the last Dense layer (``Dense(n, activation="softmax")``),
    whose logits the core's loss reads directly.

    Args:
        activation: "linear" (or None), "relu", "sigmoid", "tanh", "softmax".
        name: shown by ``model.summary()``.
    """

    name_stem = "activation"

    def __init__(self, activation: str | None, name: str | None = None):
        super().__init__(name)
        self.activation = check_activation(activation)

    def core_spec(self) -> dict:
        return {"kind": "activation", "activation": self.activation}

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation}

    def __repr__(self) -> str:
        return f"Activation({self.activation!r})"
