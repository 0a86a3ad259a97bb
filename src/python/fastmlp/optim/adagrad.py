"""Adagrad: per-coordinate steps scaled by the accumulated squared gradient."""

from __future__ import annotations

from .. import _core
from .base import KerasOptimizer, TorchOptimizer, check_non_negative


class Adagrad(TorchOptimizer):
    r"""Adagrad, exactly as ``torch.optim.Adagrad`` (epsilon outside the root).

    Per parameter p with gradient g, at step t::

        g <- -g if maximize;   g <- g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s <- s + g^2                               (s starts at initial_accumulator_value)
        p <- p - clr * g / (sqrt(s) + eps)

    Defaults are PyTorch's: lr=1e-2, lr_decay=0, initial_accumulator_value=0, eps=1e-10.
    """

    _kernel_class = _core.TorchAdagrad

    def __init__(
        self,
        params=None,
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
        maximize=False,
    ):
        self.lr_decay = check_non_negative("lr_decay", lr_decay)
        self.initial_accumulator_value = check_non_negative("initial_accumulator_value", initial_accumulator_value)
        self.eps = check_non_negative("eps", eps)
        super().__init__(params, lr, weight_decay, maximize)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.lr_decay, kernel.eps = self.lr_decay, self.eps
        kernel.initial_accumulator_value = self.initial_accumulator_value

    def _hyperparameters(self) -> dict:
        return {
            "lr_decay": self.lr_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
            **super()._hyperparameters(),
        }


class KerasAdagrad(KerasOptimizer):
    r"""Adagrad, exactly as ``keras.optimizers.Adagrad`` (epsilon inside the root).

    Per parameter p with gradient g::

        a <- a + g^2                               (a starts at initial_accumulator_value)
        p <- p - learning_rate * g / sqrt(a + epsilon)

    Defaults are Keras's: learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7.
    """

    _kernel_class = _core.KerasAdagrad

    def __init__(self, params=None, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        self.initial_accumulator_value = check_non_negative("initial_accumulator_value", initial_accumulator_value)
        self.epsilon = check_non_negative("epsilon", epsilon)
        super().__init__(params, learning_rate, **kwargs)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.initial_accumulator_value, kernel.epsilon = self.initial_accumulator_value, self.epsilon

    def _hyperparameters(self) -> dict:
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
            **super()._hyperparameters(),
        }
