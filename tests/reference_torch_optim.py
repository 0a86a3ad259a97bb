"""float64 NumPy references for the torch.optim update rules.

Written from PyTorch's own source (torch/optim/{sgd,adagrad,rmsprop,adam,adamw,
adamax,nadam,radam,adadelta}.py, the single-tensor "for-loop" path, i.e.
``_single_tensor_<name>`` with ``capturable=False, differentiable=False``),
and Lion after Chen et al. 2023, "Symbolic Discovery of Optimization
Algorithms" (torch has no Lion).

Each class holds the float64 state of ONE parameter array; ``step(param, grad)``
takes the current parameter and gradient (any float dtype) and returns the new
parameter as a fresh float64 array. The step count ``t`` is 1 on the first
update. ``lr`` may be a float or a schedule: a callable called with the number
of updates already applied (``t - 1``), as fastmlp (and Keras) do.

Scalar coefficients (bias corrections, mu products, rho_t, clr) are computed
in Python floats (double), as torch computes them.

Nothing here is fastmlp code; it is the specification the tests hold fastmlp to.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "Adadelta",
    "Lion",
    "REFERENCES",
    "float32_twin",
]


def torch_lerp(start, end, weight):
    """torch.lerp's formula, start + weight * (end - start), evaluated from the
    nearer end as PyTorch does (exact at weight 1). In float64 it equals the
    textbook moving average; in the float32 twin it rounds as torch does."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


class _Reference:
    """Shared bookkeeping: step count, schedule, lazily sized float64 state.

    ``dtype`` is float64; ``float32_twin(cls)`` runs the very same formulas in
    float32 arithmetic (NumPy >= 2 keeps Python-float scalars weak), which
    measures how far float32 rounding alone moves a trajectory.
    """

    dtype = np.float64

    def __init__(self, lr):
        self.lr = lr
        self.t = 0  # updates applied so far
        self.state: dict[str, np.ndarray] = {}

    def _current_lr(self) -> float:
        # Called after self.t was incremented: the schedule sees t - 1.
        return float(self.lr(self.t - 1)) if callable(self.lr) else float(self.lr)

    def _buffer(self, name: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
        if name not in self.state:
            self.state[name] = np.full(like.shape, fill, dtype=self.dtype)
        return self.state[name]

    def _inputs(self, param, grad):
        return np.array(param, dtype=self.dtype), np.array(grad, dtype=self.dtype)


class SGD(_Reference):
    r"""torch.optim.SGD (``_single_tensor_sgd``).

    g <- -g if maximize
    g <- g + weight_decay * p                        (if weight_decay != 0)
    if momentum != 0:
        b <- g                                       (first step: a clone of g,
                                                      NOT (1 - dampening) * g)
        b <- momentum * b + (1 - dampening) * g      (later steps)
        g <- g + momentum * b   if nesterov else   b
    p <- p - lr * g
    """

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
        super().__init__(lr)
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov, self.maximize = weight_decay, nesterov, maximize

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        lr = self._current_lr()
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum != 0:
            if "momentum_buffer" not in self.state:
                buf = g.copy()
            else:
                buf = self.momentum * self.state["momentum_buffer"] + (1 - self.dampening) * g
            self.state["momentum_buffer"] = buf
            g = g + self.momentum * buf if self.nesterov else buf
        return p - lr * g


class Adagrad(_Reference):
    r"""torch.optim.Adagrad (``_single_tensor_adagrad``, dense gradients).

    state_sum starts at initial_accumulator_value
    g <- -g if maximize
    g <- g + weight_decay * p
    clr <- lr / (1 + (t - 1) * lr_decay)
    state_sum <- state_sum + g^2
    p <- p - clr * g / (sqrt(state_sum) + eps)
    """

    def __init__(
        self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, maximize=False
    ):
        super().__init__(lr)
        self.lr_decay, self.weight_decay = lr_decay, weight_decay
        self.initial_accumulator_value, self.eps, self.maximize = initial_accumulator_value, eps, maximize

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        lr = self._current_lr()
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        clr = lr / (1 + (self.t - 1) * self.lr_decay)
        s = self._buffer("sum", p, self.initial_accumulator_value) + g * g
        self.state["sum"] = s
        return p - clr * g / (np.sqrt(s) + self.eps)


class RMSprop(_Reference):
    r"""torch.optim.RMSprop (``_single_tensor_rmsprop``).

    g <- -g if maximize
    g <- g + weight_decay * p
    v <- alpha * v + (1 - alpha) * g^2
    if centered:
        ga <- alpha * ga + (1 - alpha) * g          (torch: lerp(ga, g, 1 - alpha))
        avg <- sqrt(v - ga^2) + eps                 (eps OUTSIDE the sqrt)
    else:
        avg <- sqrt(v) + eps
    if momentum > 0:
        b <- momentum * b + g / avg                 (b starts at 0)
        p <- p - lr * b
    else:
        p <- p - lr * g / avg
    """

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False):
        super().__init__(lr)
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay
        self.momentum, self.centered, self.maximize = momentum, centered, maximize

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        lr = self._current_lr()
        a = self.alpha
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        v = a * self._buffer("square_avg", p) + (1 - a) * g * g
        self.state["square_avg"] = v
        if self.centered:
            ga = torch_lerp(self._buffer("grad_avg", p), g, 1 - a)
            self.state["grad_avg"] = ga
            avg = np.sqrt(v - ga * ga) + self.eps
        else:
            avg = np.sqrt(v) + self.eps
        if self.momentum > 0:
            buf = self.momentum * self._buffer("momentum_buffer", p) + g / avg
            self.state["momentum_buffer"] = buf
            return p - lr * buf
        return p - lr * g / avg


class Adam(_Reference):
    r"""torch.optim.Adam (``_single_tensor_adam``).

    g <- -g if maximize
    if weight_decay != 0:
        p <- p * (1 - lr * weight_decay)   if decoupled (AdamW)
        g <- g + weight_decay * p          otherwise (L2, coupled)
    m <- beta1 * m + (1 - beta1) * g       (torch: lerp(m, g, 1 - beta1))
    v <- beta2 * v + (1 - beta2) * g^2
    bc1 <- 1 - beta1^t ;  bc2 <- 1 - beta2^t
    vmax <- max(vmax, v)                   (amsgrad; vmax starts at 0; the max is
                                            taken on the RAW v, before bias correction)
    denom <- sqrt(v or vmax) / sqrt(bc2) + eps     (eps OUTSIDE the sqrt, added
                                                    AFTER dividing by sqrt(bc2))
    p <- p - (lr / bc1) * m / denom
    """

    _decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False):
        super().__init__(lr)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay, self.amsgrad, self.maximize = eps, weight_decay, amsgrad, maximize

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        t, lr, b1, b2 = self.t, self._current_lr(), self.beta1, self.beta2
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            if self._decoupled:
                p = p * (1 - lr * self.weight_decay)
            else:
                g = g + self.weight_decay * p
        m = torch_lerp(self._buffer("exp_avg", p), g, 1 - b1)
        v = b2 * self._buffer("exp_avg_sq", p) + (1 - b2) * g * g
        self.state["exp_avg"], self.state["exp_avg_sq"] = m, v
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        if self.amsgrad:
            v = np.maximum(self._buffer("max_exp_avg_sq", p), v)
            self.state["max_exp_avg_sq"] = v
        denom = np.sqrt(v) / math.sqrt(bc2) + self.eps
        return p - (lr / bc1) * m / denom


class AdamW(Adam):
    r"""torch.optim.AdamW: Adam with decoupled weight decay, applied first.

        p <- p * (1 - lr * weight_decay)
        then Adam's rule above with no L2 term (same eps placement, same amsgrad).
    Default weight_decay is 1e-2.
    """

    _decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, maximize)


class Adamax(_Reference):
    r"""torch.optim.Adamax (``_single_tensor_adamax``).

    g <- -g if maximize
    g <- g + weight_decay * p
    m <- beta1 * m + (1 - beta1) * g
    u <- max(beta2 * u, |g| + eps)           (eps added to |g| INSIDE the max)
    p <- p - (lr / (1 - beta1^t)) * m / u
    """

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
        super().__init__(lr)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay, self.maximize = eps, weight_decay, maximize

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        lr, b1, b2 = self._current_lr(), self.beta1, self.beta2
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        m = torch_lerp(self._buffer("exp_avg", p), g, 1 - b1)
        u = np.maximum(b2 * self._buffer("exp_inf", p), np.abs(g) + self.eps)
        self.state["exp_avg"], self.state["exp_inf"] = m, u
        clr = lr / (1 - b1**self.t)
        return p - clr * m / u


class NAdam(_Reference):
    r"""torch.optim.NAdam (``_single_tensor_nadam``, current torch; the
    mu_product_next = mu_product * mu_next form, not the pre-1.13 one).

        g <- -g if maximize
        if weight_decay != 0:
            p <- p * (1 - lr * weight_decay)   if decoupled_weight_decay
            g <- g + weight_decay * p          otherwise
        mu      <- beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))
        mu_next <- beta1 * (1 - 0.5 * 0.96^((t + 1) * momentum_decay))
        mu_product <- mu_product * mu          (mu_product starts at 1; one scalar
                                                per parameter, kept across steps)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        denom <- sqrt(v / (1 - beta2^t)) + eps
        p <- p - lr * (1 - mu) / (1 - mu_product) * g / denom
        p <- p - lr * mu_next / (1 - mu_product * mu_next) * m / denom
    """

    def __init__(
        self,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        maximize=False,
    ):
        super().__init__(lr)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay, self.momentum_decay = eps, weight_decay, momentum_decay
        self.decoupled_weight_decay, self.maximize = decoupled_weight_decay, maximize
        self.mu_product = 1.0

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        t, lr, b1, b2, psi = self.t, self._current_lr(), self.beta1, self.beta2, self.momentum_decay
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            if self.decoupled_weight_decay:
                p = p * (1 - lr * self.weight_decay)
            else:
                g = g + self.weight_decay * p
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        self.mu_product *= mu
        mu_product_next = self.mu_product * mu_next
        m = torch_lerp(self._buffer("exp_avg", p), g, 1 - b1)
        v = b2 * self._buffer("exp_avg_sq", p) + (1 - b2) * g * g
        self.state["exp_avg"], self.state["exp_avg_sq"] = m, v
        denom = np.sqrt(v / (1 - b2**t)) + self.eps
        p = p - (lr * (1 - mu) / (1 - self.mu_product)) * g / denom
        return p - (lr * mu_next / (1 - mu_product_next)) * m / denom


class RAdam(_Reference):
    r"""torch.optim.RAdam (``_single_tensor_radam``).

    g <- -g if maximize
    if weight_decay != 0:
        p <- p * (1 - lr * weight_decay)   if decoupled_weight_decay
        g <- g + weight_decay * p          otherwise
    m <- beta1 * m + (1 - beta1) * g ;  v <- beta2 * v + (1 - beta2) * g^2
    m_hat <- m / (1 - beta1^t)
    rho_inf <- 2 / (1 - beta2) - 1
    rho_t   <- rho_inf - 2 t beta2^t / (1 - beta2^t)
    if rho_t > 5:                                   (strictly greater than 5)
        l <- sqrt(1 - beta2^t) / (sqrt(v) + eps)    (eps added to sqrt(v) BEFORE the
                                                     bias correction, unlike Adam)
        r <- sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        p <- p - lr * m_hat * l * r
    else:
        p <- p - lr * m_hat
    """

    rho_threshold = 5.0  # torch's; the RAdam paper's text uses 4

    def __init__(
        self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False, maximize=False
    ):
        super().__init__(lr)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.decoupled_weight_decay, self.maximize = decoupled_weight_decay, maximize

    def rho(self, t: int) -> float:
        b2 = self.beta2
        rho_inf = 2 / (1 - b2) - 1
        return rho_inf - 2 * t * (b2**t) / (1 - b2**t)

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        t, lr, b1, b2 = self.t, self._current_lr(), self.beta1, self.beta2
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            if self.decoupled_weight_decay:
                p = p * (1 - lr * self.weight_decay)
            else:
                g = g + self.weight_decay * p
        m = torch_lerp(self._buffer("exp_avg", p), g, 1 - b1)
        v = b2 * self._buffer("exp_avg_sq", p) + (1 - b2) * g * g
        self.state["exp_avg"], self.state["exp_avg_sq"] = m, v
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        m_hat = m / bc1
        rho_inf = 2 / (1 - b2) - 1
        rho_t = self.rho(t)
        if rho_t > self.rho_threshold:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(bc2) / (np.sqrt(v) + self.eps)
            return p - m_hat * lr * adaptive * rect
        return p - m_hat * lr


class Adadelta(_Reference):
    r"""torch.optim.Adadelta (``_single_tensor_adadelta``).

    g <- -g if maximize
    g <- g + weight_decay * p
    v <- rho * v + (1 - rho) * g^2
    delta <- sqrt(u + eps) / sqrt(v + eps) * g       (eps INSIDE both square roots;
                                                      u is the OLD accumulated delta)
    u <- rho * u + (1 - rho) * delta^2
    p <- p - lr * delta
    """

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
        super().__init__(lr)
        self.rho, self.eps, self.weight_decay, self.maximize = rho, eps, weight_decay, maximize

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        lr, rho, eps = self._current_lr(), self.rho, self.eps
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        v = rho * self._buffer("square_avg", p) + (1 - rho) * g * g
        u = self._buffer("acc_delta", p)
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        self.state["square_avg"] = v
        self.state["acc_delta"] = rho * u + (1 - rho) * delta * delta
        return p - lr * delta


class Lion(_Reference):
    r"""Lion (Chen et al. 2023, Algorithm 2; the rule of the fastmlp API note).

        g <- -g if maximize
        c <- beta1 * m + (1 - beta1) * g
        p <- p - lr * (sign(c) + weight_decay * p)       (sign(0) = 0)
        m <- beta2 * m + (1 - beta2) * g

    sign() is discontinuous: where |c| is within float32 rounding of 0 an
    implementation in float32 may legitimately take the other sign. The
    reference counts such near-ties per element in ``near_ties`` (|c| below
    ``tie_margin`` times the magnitude of the terms that built c) so a test can
    allow 2 * lr for each of them instead of loosening its tolerance everywhere.
    """

    def __init__(self, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False, tie_margin=1e-5):
        super().__init__(lr)
        self.beta1, self.beta2 = betas
        self.weight_decay, self.maximize, self.tie_margin = weight_decay, maximize, tie_margin
        self.near_ties: np.ndarray | None = None

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        lr, b1, b2 = self._current_lr(), self.beta1, self.beta2
        if self.maximize:
            g = -g
        m = self._buffer("exp_avg", p)
        # |m| is built from past gradients; the same recurrence on |g| bounds
        # the magnitudes whose float32 rounding could move c.
        m_abs = self._buffer("_abs_exp_avg", p)
        c = b1 * m + (1 - b1) * g
        scale = b1 * m_abs + (1 - b1) * np.abs(g)
        if self.near_ties is None:
            self.near_ties = np.zeros(p.shape, dtype=np.int64)
        self.near_ties += np.abs(c) <= self.tie_margin * scale
        p = p - lr * (np.sign(c) + self.weight_decay * p)
        self.state["exp_avg"] = b2 * m + (1 - b2) * g
        self.state["_abs_exp_avg"] = b2 * m_abs + (1 - b2) * np.abs(g)
        return p


def float32_twin(cls):
    """The same rule computed in float32 (for calibrating tolerances only)."""
    return type(cls.__name__ + "Float32", (cls,), {"dtype": np.float32})


REFERENCES = {
    "SGD": SGD,
    "Adagrad": Adagrad,
    "RMSprop": RMSprop,
    "Adam": Adam,
    "AdamW": AdamW,
    "Adamax": Adamax,
    "NAdam": NAdam,
    "RAdam": RAdam,
    "Adadelta": Adadelta,
    "Lion": Lion,
}
