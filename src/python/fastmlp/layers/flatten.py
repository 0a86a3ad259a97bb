"""Flatten."""

from __future__ import annotations

from .base import Layer


class Flatten(Layer):
    """Flattens each sample to one row. Batches are flattened on the way in
    (see ``Sequential(input_shape=...)``), so this layer runs nothing; it is
    accepted for Keras-shaped model definitions."""

    name_stem = "flatten"

    def core_spec(self) -> None:
        return None

    def __repr__(self) -> str:
        return "Flatten()"
