"""Plain stochastic gradient descent in both frameworks' conventions."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .. import _core
from .base import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent, as ``torch.optim.SGD`` without momentum.

    Update rule, per parameter :math:`p` with gradient :math:`g`:

        p <- p - lr * g

    Args:
        params: arrays to update in place (writable C-contiguous float32), or
            None when the optimizer is passed to ``model.compile``.
        lr: learning rate, > 0 (PyTorch's default 1e-3).
    """

    _lr_argument = "lr"

    def __init__(self, params: Iterable[np.ndarray] | None = None, lr: float = 1e-3):
        super().__init__(params, lr)

    @property
    def lr(self) -> float:
        return self.learning_rate

    @lr.setter
    def lr(self, value: float) -> None:
        self.learning_rate = value

    def _make_kernel(self):
        return _core.SGD(self._learning_rate)


class KerasSGD(Optimizer):
    r"""Stochastic gradient descent, as ``keras.optimizers.SGD`` without momentum.

    Update rule, per parameter :math:`p` with gradient :math:`g`:

        p <- p - learning_rate * g

    Args:
        params: arrays to update in place, or None for ``model.compile``.
        learning_rate: > 0 (Keras's default 0.01).
    """

    def __init__(self, params: Iterable[np.ndarray] | None = None, learning_rate: float = 0.01):
        super().__init__(params, learning_rate)

    def _make_kernel(self):
        return _core.SGD(self._learning_rate)
