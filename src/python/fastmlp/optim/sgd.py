"""Stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

from .. import _core
from .base import KerasOptimizer, TorchOptimizer, check_non_negative


class SGD(TorchOptimizer):
    r"""Stochastic gradient descent, exactly as ``torch.optim.SGD``.

    Per parameter p with gradient g, at step t (1 on the first update)::

        g <- -g                                  if maximize
        g <- g + weight_decay * p
        b <- g                                   if t == 1
        b <- momentum * b + (1 - dampening) * g  otherwise   (only when momentum != 0)
        d <- g + momentum * b   if nesterov,  b  if momentum != 0,  g  otherwise
        p <- p - lr * d

    Defaults are PyTorch's: lr=1e-3, momentum=0, dampening=0, weight_decay=0.
    Nesterov needs momentum > 0 and dampening = 0.
    """

    _kernel_class = _core.TorchSGD

    def __init__(
        self, params=None, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
    ):
        self.momentum = check_non_negative("momentum", momentum)
        self.dampening = check_non_negative("dampening", dampening)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, lr, weight_decay, maximize)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.momentum, kernel.dampening, kernel.nesterov = self.momentum, self.dampening, self.nesterov

    def _hyperparameters(self) -> dict:
        return {
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": self.nesterov,
            **super()._hyperparameters(),
        }


class KerasSGD(KerasOptimizer):
    r"""Stochastic gradient descent, exactly as ``keras.optimizers.SGD`` (Keras 3).

    Per parameter p with gradient g::

        m <- momentum * m - learning_rate * g             (only when momentum != 0)
        p <- p + momentum * m - learning_rate * g         if nesterov
        p <- p + m                                        if momentum != 0
        p <- p - learning_rate * g                        otherwise

    Defaults are Keras's: learning_rate=0.01, momentum=0.0, nesterov=False.
    """

    _kernel_class = _core.KerasSGD

    def __init__(self, params=None, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        self.momentum = check_non_negative("momentum", momentum)
        if self.momentum > 1:
            raise ValueError(f"Invalid momentum: {momentum!r} (must be in [0, 1])")
        self.nesterov = bool(nesterov)
        super().__init__(params, learning_rate, **kwargs)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.momentum, kernel.nesterov = self.momentum, self.nesterov

    def _hyperparameters(self) -> dict:
        return {"momentum": self.momentum, "nesterov": self.nesterov, **super()._hyperparameters()}
