"""Kernel regularizers, Keras's definitions: a penalty added to the loss (and
its gradient to the kernel's) at every training step.

    L1(l1):      l1 * sum(|W|)
    L2(l2):      l2 * sum(W^2)           (gradient 2 * l2 * W)
    L1L2(l1, l2): both
"""

from __future__ import annotations

import math

import numpy as np


class Regularizer:
    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = self._factor("l1", l1)
        self.l2 = self._factor("l2", l2)

    @staticmethod
    def _factor(name: str, value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if not math.isfinite(float(value)) or value < 0:
            raise ValueError(f"Invalid {name}: {value!r} (must be a finite number >= 0)")
        return float(value)

    def __call__(self, weights) -> float:
        """The penalty for `weights` (computed here in float64, for reporting)."""
        w = np.asarray(weights, dtype=np.float64)
        return self.l1 * float(np.abs(w).sum()) + self.l2 * float(np.square(w).sum())

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1(Regularizer):
    """``l1 * sum(|W|)`` (Keras's default l1=0.01)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self) -> dict:
        return {"class_name": "L1", "l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(W^2)`` (Keras's default l2=0.01)."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self) -> dict:
        return {"class_name": "L2", "l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|W|) + l2 * sum(W^2)`` (Keras's defaults 0 and 0)."""


def get(identifier) -> Regularizer | None:
    """None, a Regularizer, a config dict from get_config(), or "l1"/"l2"/"l1_l2"."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        config = dict(identifier)
        cls = {"L1": L1, "L2": L2, "L1L2": L1L2}.get(config.pop("class_name", None))
        if cls is None:
            raise ValueError(f"unknown regularizer config {identifier!r}")
        return cls(**config)
    if isinstance(identifier, str):
        by_name = {"l1": L1, "l2": L2, "l1_l2": L1L2}
        if identifier not in by_name:
            raise ValueError(f"unknown regularizer {identifier!r}; expected l1, l2 or l1_l2")
        return by_name[identifier]()
    raise TypeError(f"kernel_regularizer must be a fastmlp.regularizers object, got {type(identifier).__name__}")
