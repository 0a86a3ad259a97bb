"""Dropout."""

from __future__ import annotations

import numbers

from .base import Layer


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
