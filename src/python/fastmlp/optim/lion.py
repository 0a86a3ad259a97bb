"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms")."""

from __future__ import annotations

from .. import _core
from .base import KerasOptimizer, TorchOptimizer, check_betas, check_fraction


class Lion(TorchOptimizer):
    r"""Lion, after the paper, with PyTorch-style argument names.

    Per parameter p with gradient g::

        g <- -g if maximize
        c = beta1 * m + (1 - beta1) * g
        p <- p - lr * (sign(c) + weight_decay * p)     (decoupled weight decay)
        m <- beta2 * m + (1 - beta2) * g

    Defaults are the paper's: lr=1e-4, betas=(0.9, 0.99), weight_decay=0.
    """

    _kernel_class = _core.Lion
    _decoupled_weight_decay = True

    def __init__(self, params=None, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False):
        self.betas = check_betas("betas", betas)
        super().__init__(params, lr, weight_decay, maximize)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.beta1, kernel.beta2 = self.betas

    def _hyperparameters(self) -> dict:
        return {"betas": self.betas, **super()._hyperparameters()}


class KerasLion(KerasOptimizer):
    r"""Lion, exactly as ``keras.optimizers.Lion``.

    Per parameter p with gradient g::

        p <- p - learning_rate * sign(beta_1 * m + (1 - beta_1) * g)
        m <- beta_2 * m + (1 - beta_2) * g

    Defaults are Keras's: learning_rate=0.001, beta_1=0.9, beta_2=0.99.
    """

    _kernel_class = _core.Lion

    def __init__(self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        self.beta_1 = check_fraction("beta_1", beta_1, closed=True)
        self.beta_2 = check_fraction("beta_2", beta_2, closed=True)
        if self.beta_1 <= 0:
            raise ValueError(f"Invalid beta_1: {beta_1!r} (must be in (0, 1])")
        super().__init__(params, learning_rate, **kwargs)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.beta1, kernel.beta2 = self.beta_1, self.beta_2

    def _hyperparameters(self) -> dict:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, **super()._hyperparameters()}
