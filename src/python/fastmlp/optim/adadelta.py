"""Adadelta: unit-corrected steps from running averages of g^2 and of the steps."""

from __future__ import annotations

from .. import _core
from .base import KerasOptimizer, TorchOptimizer, check_fraction, check_non_negative


class Adadelta(TorchOptimizer):
    r"""Adadelta, exactly as ``torch.optim.Adadelta``.

    Per parameter p with gradient g::

        g <- -g if maximize;   g <- g + weight_decay * p
        v <- rho * v + (1 - rho) * g^2
        d = sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho * u + (1 - rho) * d^2
        p <- p - lr * d

    Defaults are PyTorch's: lr=1.0, rho=0.9, eps=1e-6.
    """

    _kernel_class = _core.Adadelta

    def __init__(self, params=None, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
        self.rho = check_fraction("rho", rho, closed=True)
        self.eps = check_non_negative("eps", eps)
        super().__init__(params, lr, weight_decay, maximize)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.rho, kernel.eps = self.rho, self.eps

    def _hyperparameters(self) -> dict:
        return {"rho": self.rho, "eps": self.eps, **super()._hyperparameters()}


class KerasAdadelta(KerasOptimizer):
    r"""Adadelta, exactly as ``keras.optimizers.Adadelta`` (the same rule as
    PyTorch's, with Keras's defaults).

    Per parameter p with gradient g::

        v <- rho * v + (1 - rho) * g^2
        d = sqrt(u + epsilon) / sqrt(v + epsilon) * g
        u <- rho * u + (1 - rho) * d^2
        p <- p - learning_rate * d

    Defaults are Keras's: learning_rate=0.001, rho=0.95, epsilon=1e-7.
    """

    _kernel_class = _core.Adadelta

    def __init__(self, params=None, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        self.rho = check_fraction("rho", rho, closed=True)
        self.epsilon = check_non_negative("epsilon", epsilon)
        super().__init__(params, learning_rate, **kwargs)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.rho, kernel.eps = self.rho, self.epsilon

    def _hyperparameters(self) -> dict:
        return {"rho": self.rho, "epsilon": self.epsilon, **super()._hyperparameters()}
