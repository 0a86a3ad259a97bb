"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from .. import _core
from .base import KerasOptimizer, TorchOptimizer, check_betas, check_fraction, check_non_negative


class Adamax(TorchOptimizer):
    r"""Adamax, exactly as ``torch.optim.Adamax``.

    Per parameter p with gradient g, at step t::

        g <- -g if maximize;   g <- g + weight_decay * p
        m <- m + (1 - beta1) * (g - m)
        u <- max(beta2 * u, |g| + eps)
        p <- p - lr / (1 - beta1^t) * m / u

    Defaults are PyTorch's: lr=2e-3, betas=(0.9, 0.999), eps=1e-8.
    """

    _kernel_class = _core.TorchAdamax

    def __init__(self, params=None, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
        self.betas = check_betas("betas", betas)
        self.eps = check_non_negative("eps", eps)
        super().__init__(params, lr, weight_decay, maximize)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.beta1, kernel.beta2 = self.betas
        kernel.eps = self.eps

    def _hyperparameters(self) -> dict:
        return {"betas": self.betas, "eps": self.eps, **super()._hyperparameters()}


class KerasAdamax(KerasOptimizer):
    r"""Adamax, exactly as ``keras.optimizers.Adamax``.

    Per parameter p with gradient g, at step t::

        m <- m + (1 - beta_1) * (g - m)
        u <- max(beta_2 * u, |g|)
        p <- p - learning_rate * m / ((1 - beta_1^t) * (u + epsilon))

    Defaults are Keras's: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7.
    """

    _kernel_class = _core.KerasAdamax

    def __init__(self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        self.beta_1 = check_fraction("beta_1", beta_1)
        self.beta_2 = check_fraction("beta_2", beta_2)
        self.epsilon = check_non_negative("epsilon", epsilon)
        super().__init__(params, learning_rate, **kwargs)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.beta1, kernel.beta2, kernel.epsilon = self.beta_1, self.beta_2, self.epsilon

    def _hyperparameters(self) -> dict:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, **super()._hyperparameters()}
