"""BatchNormalization."""

from __future__ import annotations

import math
import numbers

from .base import Layer


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
        if (
            isinstance(epsilon, bool)
            or not isinstance(epsilon, numbers.Real)
            or not (epsilon > 0 and math.isfinite(epsilon))
        ):
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
