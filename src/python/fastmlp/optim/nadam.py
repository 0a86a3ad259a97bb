"""NAdam: Adam with Nesterov momentum (each framework its own schedule)."""

from __future__ import annotations

from .. import _core
from .base import KerasOptimizer, TorchOptimizer, check_betas, check_fraction, check_non_negative


class NAdam(TorchOptimizer):
    r"""NAdam, exactly as ``torch.optim.NAdam``.

    Per parameter p with gradient g, at step t (P starts at 1)::

        g <- -g if maximize
        g <- g + weight_decay * p                  (or p <- p * (1 - lr * weight_decay)
                                                     when decoupled_weight_decay)
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay));   P <- P * mu_t
        m <- m + (1 - beta1) * (g - m);   v <- beta2 * v + (1 - beta2) * g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p <- p - lr * (1 - mu_t) / (1 - P) * g / d
               - lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / d

    Defaults are PyTorch's: lr=2e-3, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3.
    """

    _kernel_class = _core.TorchNAdam

    def __init__(
        self,
        params=None,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        maximize=False,
    ):
        self.betas = check_betas("betas", betas)
        self.eps = check_non_negative("eps", eps)
        self.momentum_decay = check_non_negative("momentum_decay", momentum_decay)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)
        self._decoupled_weight_decay = self.decoupled_weight_decay
        super().__init__(params, lr, weight_decay, maximize)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.beta1, kernel.beta2 = self.betas
        kernel.eps, kernel.momentum_decay = self.eps, self.momentum_decay

    def _hyperparameters(self) -> dict:
        return {
            "betas": self.betas,
            "eps": self.eps,
            "momentum_decay": self.momentum_decay,
            "decoupled_weight_decay": self.decoupled_weight_decay,
            **super()._hyperparameters(),
        }


class KerasNadam(KerasOptimizer):
    r"""Nadam, exactly as ``keras.optimizers.Nadam``.

    Per parameter p with gradient g, at step t (U starts at 1)::

        u_t = beta_1 * (1 - 0.5 * 0.96^t);   U <- U * u_t
        m <- m + (1 - beta_1) * (g - m);   v <- v + (1 - beta_2) * (g^2 - v)
        m^ = u_{t+1} * m / (1 - U * u_{t+1}) + (1 - u_t) * g / (1 - U)
        v^ = v / (1 - beta_2^t)
        p <- p - learning_rate * m^ / (sqrt(v^) + epsilon)

    Defaults are Keras's: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7.
    """

    _kernel_class = _core.KerasNadam

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
