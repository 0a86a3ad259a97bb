"""Adam and AdamW: momentum with a per-coordinate second-moment scale."""

from __future__ import annotations

from .. import _core
from .base import KerasOptimizer, TorchOptimizer, check_betas, check_fraction, check_non_negative


class Adam(TorchOptimizer):
    r"""Adam, exactly as ``torch.optim.Adam``.

    Per parameter p with gradient g, at step t::

        g <- -g if maximize;   g <- g + weight_decay * p
        m <- m + (1 - beta1) * (g - m)
        v <- beta2 * v + (1 - beta2) * g^2
        amsgrad:  v^ <- max(v^, v), used in place of v below
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Defaults are PyTorch's: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0 (coupled L2).
    """

    _kernel_class = _core.TorchAdam

    def __init__(
        self, params=None, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False
    ):
        self.betas = check_betas("betas", betas)
        self.eps = check_non_negative("eps", eps)
        self.amsgrad = bool(amsgrad)
        super().__init__(params, lr, weight_decay, maximize)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.beta1, kernel.beta2 = self.betas
        kernel.eps, kernel.amsgrad = self.eps, self.amsgrad

    def _hyperparameters(self) -> dict:
        return {"betas": self.betas, "eps": self.eps, "amsgrad": self.amsgrad, **super()._hyperparameters()}


class AdamW(Adam):
    r"""AdamW, exactly as ``torch.optim.AdamW``: Adam with decoupled weight decay.

    Per parameter p, first ``p <- p * (1 - lr * weight_decay)``, then the Adam
    update above without the L2 term.

    Defaults are PyTorch's: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2.
    """

    _decoupled_weight_decay = True

    def __init__(
        self, params=None, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


class KerasAdam(KerasOptimizer):
    r"""Adam, exactly as ``keras.optimizers.Adam`` (Keras's "epsilon hat" form).

    Per parameter p with gradient g, at step t::

        alpha = learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        m <- m + (1 - beta_1) * (g - m)
        v <- v + (1 - beta_2) * (g^2 - v)
        amsgrad:  v^ <- max(v^, v), used in place of v below
        p <- p - alpha * m / (sqrt(v) + epsilon)

    Defaults are Keras's: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7.
    """

    _kernel_class = _core.KerasAdam

    def __init__(
        self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs
    ):
        self.beta_1 = check_fraction("beta_1", beta_1)
        self.beta_2 = check_fraction("beta_2", beta_2)
        self.epsilon = check_non_negative("epsilon", epsilon)
        self.amsgrad = bool(amsgrad)
        super().__init__(params, learning_rate, **kwargs)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.beta1, kernel.beta2, kernel.epsilon, kernel.amsgrad = (
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.amsgrad,
        )

    def _hyperparameters(self) -> dict:
        return {
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
            **super()._hyperparameters(),
        }


class KerasAdamW(KerasAdam):
    r"""AdamW, exactly as ``keras.optimizers.AdamW``: Keras's Adam with its
    decoupled weight decay on, ``p <- p - p * weight_decay * learning_rate``
    before each update.

    Defaults are Keras's: learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7.
    """

    def __init__(
        self,
        params=None,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError("Invalid weight_decay: None (AdamW needs a weight decay; use Adam without one)")
        super().__init__(params, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)
