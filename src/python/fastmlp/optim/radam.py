"""RAdam: Adam with a rectified (variance-corrected) adaptive step."""

from __future__ import annotations

from .. import _core
from .base import TorchOptimizer, check_betas, check_non_negative


class RAdam(TorchOptimizer):
    r"""RAdam, exactly as ``torch.optim.RAdam``.

    Per parameter p with gradient g, at step t::

        g <- -g if maximize
        g <- g + weight_decay * p                  (or p <- p * (1 - lr * weight_decay)
                                                     when decoupled_weight_decay)
        m <- m + (1 - beta1) * (g - m);   v <- beta2 * v + (1 - beta2) * g^2
        rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                    p <- p - lr * m / (1 - beta1^t) * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)
        otherwise:  p <- p - lr * m / (1 - beta1^t)

    Defaults are PyTorch's: lr=1e-3, betas=(0.9, 0.999), eps=1e-8.
    """

    _kernel_class = _core.TorchRAdam

    def __init__(
        self,
        params=None,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        decoupled_weight_decay=False,
        maximize=False,
    ):
        self.betas = check_betas("betas", betas)
        self.eps = check_non_negative("eps", eps)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)
        self._decoupled_weight_decay = self.decoupled_weight_decay
        super().__init__(params, lr, weight_decay, maximize)

    def _configure(self, kernel) -> None:
        super()._configure(kernel)
        kernel.beta1, kernel.beta2 = self.betas
        kernel.eps = self.eps

    def _hyperparameters(self) -> dict:
        return {
            "betas": self.betas,
            "eps": self.eps,
            "decoupled_weight_decay": self.decoupled_weight_decay,
            **super()._hyperparameters(),
        }
