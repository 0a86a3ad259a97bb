"""NumPy reference implementations of Keras 3's optimizers (float64 by default).

Written from the update rules in Keras 3's source (keras/src/optimizers/*.py
and base_optimizer.py); the formulas are Keras's, the code is ours.  Each
class holds its state as NumPy arrays and ``step(params, grads)`` returns the
new parameter arrays (the inputs are not modified).

What every optimizer shares (keras/src/optimizers/base_optimizer.py):

* One step, with ``t`` = number of updates already applied (0 first):
    1. ``lr = learning_rate(t)`` if the learning rate is a schedule (Keras
       calls a ``LearningRateSchedule`` with ``self.iterations``, read before
       the counter is incremented), else the constant;
    2. gradients are clipped (``_clip_gradients``), at most one of:
         clipnorm c (each array on its own):  g <- g * c / max(||g||_2, c)
         global_clipnorm c (all arrays):      s = c * min(1/N, 1/c),
                                              N = sqrt(sum_i ||g_i||^2);  g_i <- s*g_i
         clipvalue c:                         g <- clip(g, -c, c)
       (a clip of None or <= 0 means none, as in Keras);
    3. decoupled weight decay (``_apply_weight_decay``), BEFORE the update:
         p <- p - p * weight_decay * lr
    4. the optimizer's own ``update_step`` on every array, with the same lr;
    5. iterations += 1.
* The step count used inside the rules is ``t = iterations + 1`` (1 first).

``dtype`` (default float64) sets the precision of the state and arithmetic;
float32 is only used to measure what float32 arithmetic genuinely costs when
choosing test tolerances.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def clip_by_norm(g: np.ndarray, clipnorm: float) -> np.ndarray:
    """Keras ``_clip_by_norm``: g * c / max(||g||_2, c) (a zero g stays zero)."""
    norm = np.sqrt(np.sum(np.square(g)))
    return g * clipnorm / np.maximum(norm, g.dtype.type(clipnorm))


def clip_by_global_norm(grads: Sequence[np.ndarray], clipnorm: float) -> list[np.ndarray]:
    """Keras ``clip_by_global_norm``: scale every array by c * min(1/N, 1/c),
    N the L2 norm of all arrays together."""
    dtype = grads[0].dtype.type
    total = np.sqrt(sum(np.sum(np.square(g)) for g in grads))
    with np.errstate(divide="ignore"):
        scale = dtype(clipnorm) * np.minimum(dtype(1.0) / total, dtype(1.0) / dtype(clipnorm))
    return [g * scale for g in grads]


class KerasOptimizerReference:
    """Base of the references: schedule, clipping, weight decay, step count."""

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        dtype=np.float64,
    ):
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.dtype = np.dtype(dtype).type
        self.iterations = 0
        self.built = False

    # -- hooks for subclasses ------------------------------------------------
    def build(self, params: Sequence[np.ndarray]) -> None:
        pass

    def before_update(self) -> None:
        """Once per step, before the per-array updates (Nadam's u_product)."""

    def update(self, index: int, p: np.ndarray, g: np.ndarray, lr) -> np.ndarray:
        raise NotImplementedError

    # -- shared machinery ----------------------------------------------------
    def _c(self, x):
        """A hyperparameter in the working precision."""
        return self.dtype(x)

    def _zeros(self, params):
        return [np.zeros(np.shape(p), self.dtype) for p in params]

    def current_lr(self):
        lr = self.learning_rate
        return self._c(lr(self.iterations) if callable(lr) else lr)

    def clip(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        if self.clipnorm is not None and self.clipnorm > 0:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue is not None and self.clipvalue > 0:
            c = self._c(self.clipvalue)
            return [np.clip(g, -c, c) for g in grads]
        return grads

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> list[np.ndarray]:
        params = [np.array(p, dtype=self.dtype) for p in params]
        grads = [np.asarray(g).astype(self.dtype) for g in grads]
        if len(params) != len(grads):
            raise ValueError("one gradient per parameter array")
        if not self.built:
            self.build(params)
            self.built = True
        lr = self.current_lr()
        grads = self.clip(grads)
        if self.weight_decay is not None:
            wd = self._c(self.weight_decay)
            params = [p - p * wd * lr for p in params]
        self.before_update()
        params = [self.update(i, p, g, lr) for i, (p, g) in enumerate(zip(params, grads))]
        self.iterations += 1
        return params

    @property
    def t(self):
        """Keras's ``local_step``: iterations + 1, as a float."""
        return self._c(self.iterations + 1)


class SGD(KerasOptimizerReference):
    """keras.optimizers.SGD (defaults: learning_rate=0.01, momentum=0.0, nesterov=False).

    momentum == 0:   p <- p - lr * g
    momentum > 0:    m <- momentum * m - lr * g          (m starts at 0)
                     p <- p + m
      nesterov:      p <- p + momentum * m - lr * g      (with the new m)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **base):
        super().__init__(learning_rate, **base)
        self.momentum, self.nesterov = momentum, nesterov

    def build(self, params):
        self.m = self._zeros(params)

    def update(self, i, p, g, lr):
        if self.momentum == 0:
            return p - lr * g
        mom = self._c(self.momentum)
        self.m[i] = mom * self.m[i] - lr * g
        if self.nesterov:
            return p + (mom * self.m[i] - lr * g)
        return p + self.m[i]


class RMSprop(KerasOptimizerReference):
    """keras.optimizers.RMSprop (defaults: learning_rate=0.001, rho=0.9,
    momentum=0.0, epsilon=1e-7, centered=False).

    v <- rho * v + (1 - rho) * g^2                        (v starts at 0)
    centered:  a <- rho * a + (1 - rho) * g;   denom = v - a^2 + eps
    else:      denom = v + eps                            (eps INSIDE the sqrt)
    inc = lr * g / sqrt(denom)
    momentum > 0:  mom <- momentum * mom + inc;  p <- p - mom   (lr inside mom)
    else:          p <- p - inc
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **base):
        super().__init__(learning_rate, **base)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def build(self, params):
        self.v, self.mom, self.avg = self._zeros(params), self._zeros(params), self._zeros(params)

    def update(self, i, p, g, lr):
        rho, eps = self._c(self.rho), self._c(self.epsilon)
        one = self._c(1.0)
        self.v[i] = rho * self.v[i] + (one - rho) * np.square(g)
        if self.centered:
            self.avg[i] = rho * self.avg[i] + (one - rho) * g
            denom = self.v[i] - np.square(self.avg[i]) + eps
        else:
            denom = self.v[i] + eps
        inc = lr * g / np.sqrt(denom)
        if self.momentum > 0:
            self.mom[i] = self._c(self.momentum) * self.mom[i] + inc
            return p - self.mom[i]
        return p - inc


class Adam(KerasOptimizerReference):
    """keras.optimizers.Adam (defaults: learning_rate=0.001, beta_1=0.9,
    beta_2=0.999, epsilon=1e-7, amsgrad=False). "Epsilon hat" form:

    t = iterations + 1
    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m <- m + (g - m) * (1 - beta_1)
    v <- v + (g^2 - v) * (1 - beta_2)
    amsgrad:  v_hat <- max(v_hat, v), and v_hat replaces v below
    p <- p - alpha * m / (sqrt(v) + eps)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **base):
        super().__init__(learning_rate, **base)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def build(self, params):
        self.m, self.v, self.v_hat = self._zeros(params), self._zeros(params), self._zeros(params)

    def update(self, i, p, g, lr):
        b1, b2, eps, one = self._c(self.beta_1), self._c(self.beta_2), self._c(self.epsilon), self._c(1.0)
        t = self.t
        alpha = lr * np.sqrt(one - b2**t) / (one - b1**t)
        self.m[i] = self.m[i] + (g - self.m[i]) * (one - b1)
        self.v[i] = self.v[i] + (np.square(g) - self.v[i]) * (one - b2)
        v = self.v[i]
        if self.amsgrad:
            self.v_hat[i] = np.maximum(self.v_hat[i], self.v[i])
            v = self.v_hat[i]
        return p - alpha * self.m[i] / (np.sqrt(v) + eps)


class AdamW(Adam):
    """keras.optimizers.AdamW: Adam with the base class's decoupled weight
    decay (defaults: learning_rate=0.001, weight_decay=0.004, beta_1=0.9,
    beta_2=0.999, epsilon=1e-7, amsgrad=False):

    p <- p - p * weight_decay * lr     (before the Adam step)
    then the Adam rule above.
    """

    def __init__(
        self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **base
    ):
        if weight_decay is None:
            raise ValueError("weight_decay must be a float")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **base)


class Adagrad(KerasOptimizerReference):
    """keras.optimizers.Adagrad (defaults: learning_rate=0.001,
    initial_accumulator_value=0.1, epsilon=1e-7).

    acc starts at initial_accumulator_value
    acc <- acc + g^2
    p <- p - lr * g / sqrt(acc + eps)                     (eps INSIDE the sqrt)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **base):
        super().__init__(learning_rate, **base)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def build(self, params):
        self.acc = [np.full(np.shape(p), self.initial_accumulator_value, self.dtype) for p in params]

    def update(self, i, p, g, lr):
        self.acc[i] = self.acc[i] + np.square(g)
        return p - lr * g / np.sqrt(self.acc[i] + self._c(self.epsilon))


class Adamax(KerasOptimizerReference):
    """keras.optimizers.Adamax (defaults: learning_rate=0.001, beta_1=0.9,
    beta_2=0.999, epsilon=1e-7).

    t = iterations + 1
    m <- m + (g - m) * (1 - beta_1)
    u <- max(beta_2 * u, |g|)
    p <- p - lr * m / ((1 - beta_1^t) * (u + eps))
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **base):
        super().__init__(learning_rate, **base)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, params):
        self.m, self.u = self._zeros(params), self._zeros(params)

    def update(self, i, p, g, lr):
        b1, b2, eps, one = self._c(self.beta_1), self._c(self.beta_2), self._c(self.epsilon), self._c(1.0)
        self.m[i] = self.m[i] + (g - self.m[i]) * (one - b1)
        self.u[i] = np.maximum(b2 * self.u[i], np.abs(g))
        return p - lr * self.m[i] / ((one - b1**self.t) * (self.u[i] + eps))


class Nadam(KerasOptimizerReference):
    """keras.optimizers.Nadam (defaults: learning_rate=0.001, beta_1=0.9,
    beta_2=0.999, epsilon=1e-7). Dozat's momentum schedule:

    u(s) = beta_1 * (1 - 0.5 * 0.96^s)
    once per step (not per array), before the updates, with t = iterations + 1:
        u_product <- u_product * u(t)                     (u_product starts at 1)
    then per array:
        m <- m + (g - m) * (1 - beta_1)
        v <- v + (g^2 - v) * (1 - beta_2)
        m_hat = u(t+1) * m / (1 - u_product * u(t+1)) + (1 - u(t)) * g / (1 - u_product)
        v_hat = v / (1 - beta_2^t)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **base):
        super().__init__(learning_rate, **base)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.u_product = self._c(1.0)

    def build(self, params):
        self.m, self.v = self._zeros(params), self._zeros(params)

    def _u(self, s):
        return self._c(self.beta_1) * (self._c(1.0) - self._c(0.5) * self._c(0.96) ** self._c(s))

    def before_update(self):
        self.u_product = self.u_product * self._u(self.iterations + 1)

    def update(self, i, p, g, lr):
        b1, b2, eps, one = self._c(self.beta_1), self._c(self.beta_2), self._c(self.epsilon), self._c(1.0)
        u_t, u_next = self._u(self.iterations + 1), self._u(self.iterations + 2)
        u_product_next = self.u_product * u_next
        self.m[i] = self.m[i] + (g - self.m[i]) * (one - b1)
        self.v[i] = self.v[i] + (np.square(g) - self.v[i]) * (one - b2)
        m_hat = u_next * self.m[i] / (one - u_product_next) + (one - u_t) * g / (one - self.u_product)
        v_hat = self.v[i] / (one - b2**self.t)
        return p - m_hat * lr / (np.sqrt(v_hat) + eps)


class Adadelta(KerasOptimizerReference):
    """keras.optimizers.Adadelta (defaults: learning_rate=0.001, rho=0.95, epsilon=1e-7).

    rms(x) = sqrt(x + eps)
    Eg  <- rho * Eg + (1 - rho) * g^2                     (both start at 0)
    dx  = -rms(Edx) * g / rms(Eg)                         (Edx before its update)
    Edx <- rho * Edx + (1 - rho) * dx^2
    p <- p + lr * dx
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **base):
        super().__init__(learning_rate, **base)
        self.rho, self.epsilon = rho, epsilon

    def build(self, params):
        self.eg, self.edx = self._zeros(params), self._zeros(params)

    def update(self, i, p, g, lr):
        rho, eps, one = self._c(self.rho), self._c(self.epsilon), self._c(1.0)
        self.eg[i] = rho * self.eg[i] + (one - rho) * np.square(g)
        dx = -(np.sqrt(self.edx[i] + eps) * g) / np.sqrt(self.eg[i] + eps)
        self.edx[i] = rho * self.edx[i] + (one - rho) * np.square(dx)
        return p + lr * dx


class Lion(KerasOptimizerReference):
    """keras.optimizers.Lion (defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.99).

    c = beta_1 * m + (1 - beta_1) * g
    p <- p - lr * sign(c)                                 (sign(0) = 0)
    m <- beta_2 * m + (1 - beta_2) * g                    (m starts at 0)

    sign(c) is discontinuous: where |c| is within float32 rounding of 0, a
    float32 implementation may legitimately take the other sign.  The rounding
    error of a float32 m is bounded by a small multiple of 2**-24 * M, with
    M <- beta_2 * M + (1 - beta_2) * |g| (the same EMA over |g|), so
    ``near_ties`` counts, per element, the steps at which
    |c| <= tie_tolerance * (beta_1 * M + (1 - beta_1) * |g|), and ``tie_lr``
    sums lr over them: a test can allow those elements 2 * lr per such step.
    (Measured: float32 sign flips occur at |c| / that bound <= 2e-7.)
    """

    tie_tolerance = 1e-5

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **base):
        super().__init__(learning_rate, **base)
        self.beta_1, self.beta_2 = beta_1, beta_2

    def build(self, params):
        self.m, self.m_abs = self._zeros(params), [np.zeros(np.shape(p)) for p in params]
        self.near_ties = [np.zeros(np.shape(p), np.int64) for p in params]
        self.tie_lr = [np.zeros(np.shape(p), np.float64) for p in params]

    def update(self, i, p, g, lr):
        b1, b2, one = self._c(self.beta_1), self._c(self.beta_2), self._c(1.0)
        c = b1 * self.m[i] + (one - b1) * g
        g64, beta_1, beta_2 = np.abs(g.astype(np.float64)), float(self.beta_1), float(self.beta_2)
        bound = beta_1 * self.m_abs[i] + (1.0 - beta_1) * g64
        tie = np.abs(c) <= self.tie_tolerance * bound
        self.m_abs[i] = beta_2 * self.m_abs[i] + (1.0 - beta_2) * g64
        self.near_ties[i] += tie
        self.tie_lr[i] += tie * float(lr)
        p = p - lr * np.sign(c)
        self.m[i] = b2 * self.m[i] + (one - b2) * g
        return p


KERAS_REFERENCES = {
    "SGD": SGD,
    "RMSprop": RMSprop,
    "Adam": Adam,
    "AdamW": AdamW,
    "Adagrad": Adagrad,
    "Adamax": Adamax,
    "Nadam": Nadam,
    "Adadelta": Adadelta,
    "Lion": Lion,
}

# Keras 3's defaults, argument by argument (from each class's __init__).
KERAS_DEFAULTS = {
    "SGD": dict(learning_rate=0.01, momentum=0.0, nesterov=False),
    "RMSprop": dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
    "Adam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
    "AdamW": dict(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
    "Adagrad": dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7),
    "Adamax": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
    "Nadam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
    "Adadelta": dict(learning_rate=0.001, rho=0.95, epsilon=1e-7),
    "Lion": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.99),
}
BASE_DEFAULTS = dict(weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None)
