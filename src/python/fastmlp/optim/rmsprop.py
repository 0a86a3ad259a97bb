"""RMSprop: steps scaled by a running root mean square of the gradient."""

from __future__ import annotations

from .. import _core
from .base import KerasOptimizer, TorchOptimizer, check_fraction, check_non_negative


class RMSprop(TorchOptimizer):
    r"""RMSprop, exactly as ``torch.optim.RMSprop`` (epsilon outside the root).

    Per parameter p with gradient g::

        g <- -g if maximize;   g <- g + weight_decay * p
        v <- alpha * v + (1 - alpha) * g^2
        centered:  a <- alpha * a + (1 - alpha) * g;   v~ = v - a^2   (else v~ = v)
        d = sqrt(v~) + eps
        momentum > 0:  b <- momentum * b + g / d;   p <- p - lr * b
        otherwise:     p <- p - lr * g / d

    Defaults are PyTorch's: lr=1e-2, alpha=0.99, eps=1e-8, momentum=0, centered=False.
    (v - a^2 is clamped at 0 so rounding cannot make its root NaN.)
    """

    _kernel_class = _core.TorchRMSprop

    def __init__(
        self, params=None, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False
    ):
        self.alpha = check_fraction("alpha", alpha, closed=True)
        self.eps = check_non_negative("eps", eps)
        self.momentum = check_non_negative("momentum", momentum)
        self.centered = bool(centered)
        super().__init__(params, lr, weight_decay, maximize)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.alpha, kernel.eps, kernel.momentum, kernel.centered = self.alpha, self.eps, self.momentum, self.centered

    def _hyperparameters(self) -> dict:
        return {
            "alpha": self.alpha,
            "eps": self.eps,
            "momentum": self.momentum,
            "centered": self.centered,
            **super()._hyperparameters(),
        }


class KerasRMSprop(KerasOptimizer):
    r"""RMSprop, exactly as ``keras.optimizers.RMSprop`` (epsilon inside the
    root, the learning rate inside the momentum buffer).

    Per parameter p with gradient g::

        v <- rho * v + (1 - rho) * g^2
        centered:  a <- rho * a + (1 - rho) * g;   v~ = v - a^2   (else v~ = v)
        inc = learning_rate * g / sqrt(v~ + epsilon)
        momentum > 0:  m <- momentum * m + inc;   p <- p - m
        otherwise:     p <- p - inc

    Defaults are Keras's: learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False.
    """

    _kernel_class = _core.KerasRMSprop

    def __init__(self, params=None, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        self.rho = check_fraction("rho", rho, closed=True)
        self.momentum = check_non_negative("momentum", momentum)
        self.epsilon = check_non_negative("epsilon", epsilon)
        self.centered = bool(centered)
        super().__init__(params, learning_rate, **kwargs)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.rho, kernel.momentum, kernel.epsilon, kernel.centered = (
            self.rho,
            self.momentum,
            self.epsilon,
            self.centered,
        )

    def _hyperparameters(self) -> dict:
        return {
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
            **super()._hyperparameters(),
        }
