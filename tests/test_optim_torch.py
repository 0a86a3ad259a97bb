"""fastmlp.optim's PyTorch-convention optimizers against float64 references of
torch.optim's single-tensor update rules (tests/reference_torch_optim.py).

Setup: parameters start as float32; fastmlp updates a float32 array in place;
the reference runs in float64 from the same float32 start with the same
float32 gradients (sign * 10**uniform(-7, 0) elementwise, fresh every step).

Tolerance, elementwise, after `steps` updates:

    |p_fastmlp - p_ref| <= RTOL * (|p_ref| + L)  +  TWIN * |p_twin32 - p_ref|
    RTOL = 1e-5, TWIN = 2

* L = sum_t |p_ref(t) - p_ref(t-1)|, the length of that element's reference
  trajectory (L <= lr * steps * max|update direction|): the "atol relative to
  lr * steps". Why RTOL = 1e-5 is what float32 needs, and no more:
    - every step rounds p to float32: at most 2**-24 * |p(t)| per rounding,
      and |p(t)| <= |p_final| + L; 100 steps give at most 100 * 2**-24 =
      6.0e-6 of (|p| + L) with one rounding per step. Roundings are unbiased,
      so in practice the sum grows like sqrt(steps): ~1e-7 (the median
      error/tolerance ratio measured over the grid is ~0.01);
    - the update itself is computed in float32 from float32 state: ~10
      roundings (6e-7 relative) of each step's |delta p|, i.e. ~6e-7 * L.
  Measured over the grid: fastmlp's worst error is 0.12 to 0.45 of this term
  for every optimizer but one element (RMSprop, below); print the table with
  `PYTHONPATH=src/python .venv/bin/python tests/test_optim_torch.py`.
* p_twin32 is the SAME reference rule evaluated in float32 arithmetic on the
  same inputs (reference_torch_optim.float32_twin), i.e. what torch.optim
  itself computes on float32 tensors. It is computed only where the first
  term is not enough, and it matters only where torch's formula is
  ill-conditioned in float32: e.g. coupled weight decay g + wd * p cancelling
  to ~1e-4 of its terms, followed by an RMSprop step whose sqrt(v) is
  comparable to eps (such an element of the 40,001 reaches 0.97 x the first
  term for the twin and 1.03 x for fastmlp). TWIN = 2 lets fastmlp round
  differently (another operation order, FMA) but never be more than twice as
  far from exact as torch's own float32 evaluation.
* Lion: sign() is discontinuous; where the reference's c is within float32
  rounding of 0 (counted by the reference, Lion.near_ties) fastmlp may take
  the other sign; such elements alone get 2 * lr per near-tie on top.

A wrong convention (eps inside the sqrt, Keras's eps-hat, SGD's damped first
momentum buffer, Adagrad's lr_decay off by one, NAdam's old mu_product, RAdam's
rho_t > 4, ...) misses this tolerance by a factor > 100 (measured: 330 to
1.6e5): test_the_tolerance_tells_conventions_apart.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastmlp
import reference_torch_optim as ref
from reference_torch_optim import REFERENCES

RTOL = 1e-5
TWIN = 2.0  # see the module docstring
STEPS = 100
SIZES = [1, 7, 1000, 40_001]  # 40_001: above the 32,768-element OpenMP threshold
NAMES = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adadelta", "Lion"]
DISTINCT = 100  # a wrong convention must miss the tolerance by at least this factor


def optimizer_class(name):
    cls = getattr(fastmlp.optim, name, None)
    if cls is None:
        pytest.fail(f"fastmlp.optim.{name} does not exist")
    return cls


# ------------------------------------------------------------------ inputs
def _shape(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


@functools.lru_cache(maxsize=64)
def gradients(shape, steps, seed, low=-7.0, high=0.0):
    """(steps, *shape) float32 gradients, magnitudes 10**uniform(low, high), random signs."""
    shape = _shape(shape)
    rng = np.random.default_rng([seed, steps, *shape, 7])
    magnitude = 10.0 ** rng.uniform(low, high, size=(steps, *shape))
    sign = np.where(rng.random(size=(steps, *shape)) < 0.5, -1.0, 1.0)
    g = (sign * magnitude).astype(np.float32)
    g.flags.writeable = False
    return g


def start_params(shape, seed, kind="normal"):
    shape = _shape(shape)
    if kind == "zeros":
        return np.zeros(shape, np.float32)
    return np.random.default_rng([seed, *shape, 11]).normal(size=shape).astype(np.float32)


# ------------------------------------------------------------------ runner
class ReferenceRun:
    """A reference rule stepped on several arrays, with each element's path length."""

    def __init__(self, cls, kwargs, starts):
        self.refs = [cls(**kwargs) for _ in starts]
        self.p = [s.astype(cls.dtype) for s in starts]
        self.path = [np.zeros(s.shape) for s in starts]
        self.lr_max = 0.0

    def step(self, grads):
        for i, (r, g) in enumerate(zip(self.refs, grads)):
            new = r.step(self.p[i], g)
            self.path[i] += np.abs(new.astype(np.float64) - self.p[i])
            self.p[i] = new
        self.lr_max = max(self.lr_max, abs(self.refs[0]._current_lr()))  # this step's lr


class Trajectory:
    """fastmlp and the float64 reference stepped side by side on several arrays."""

    def __init__(self, name, kwargs, shapes, seed=0, start="normal", ref_cls=None, ref_kwargs=None):
        self.name, self.kwargs = name, kwargs
        self.shapes = [_shape(s) for s in shapes]
        self.seed = seed
        self.starts = [start_params(s, seed + i, start) for i, s in enumerate(self.shapes)]
        self.fast = [s.copy() for s in self.starts]
        self.views = list(self.fast)  # the caller's arrays: they must change in place
        self.opt = optimizer_class(name)(self.fast, **kwargs)
        self.ref_cls = ref_cls or REFERENCES[name]
        self.ref_kwargs = kwargs if ref_kwargs is None else ref_kwargs
        self.reference = ReferenceRun(self.ref_cls, self.ref_kwargs, self.starts)
        self.history = []  # every step's gradients, to replay for the float32 twin
        self._twin = None
        self.steps_done = 0

    @property
    def ref(self):
        return self.reference.p

    def run(self, steps, grad_steps=None, low=-7.0, high=0.0, check_grads=True):
        total = grad_steps or steps
        grads = [gradients(s, total, self.seed + i, low, high) for i, s in enumerate(self.shapes)]
        for _ in range(steps):
            t = self.steps_done
            given = [g[t].copy() for g in grads]
            self.opt.step(given)
            if check_grads:
                for i, g in enumerate(grads):
                    assert np.array_equal(given[i], g[t]), f"{self.name}.step modified gradient {i}"
            step_grads = [g[t] for g in grads]
            self.reference.step(step_grads)
            self.history.append(step_grads)
            self.steps_done += 1
        self._twin = None
        return self

    def twin(self):
        """The same rule evaluated in float32 arithmetic on the same inputs."""
        if self._twin is None:
            self._twin = ReferenceRun(ref.float32_twin(self.ref_cls), self.ref_kwargs, self.starts)
            for step_grads in self.history:
                self._twin.step(step_grads)
        return self._twin

    def tolerance(self, i, with_twin):
        r = self.reference
        tol = RTOL * (np.abs(r.p[i]) + r.path[i])
        ties = getattr(r.refs[i], "near_ties", None)
        if ties is not None:  # Lion: sign(c) of a c within rounding of 0
            tol = tol + 2.0 * r.lr_max * ties
        if with_twin:
            tol = tol + TWIN * np.abs(self.twin().p[i].astype(np.float64) - r.p[i])
        return tol

    def violation(self, i=0, against=None):
        """error / tolerance per element (<= 1 passes)."""
        other = self.ref[i] if against is None else against
        err = np.abs(self.fast[i].astype(np.float64) - other)
        for with_twin in (False, True):  # the twin only where the plain bound is not enough
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(err == 0, 0.0, err / self.tolerance(i, with_twin))
            if np.max(ratio) <= 1.0:
                break
        return ratio

    def check(self):
        for i in range(len(self.shapes)):
            assert self.views[i] is self.fast[i]
            fast = self.fast[i]
            assert fast.dtype == np.float32 and fast.shape == self.shapes[i]
            assert np.all(np.isfinite(fast)), f"{self.name}: non-finite parameters"
            assert np.all(np.isfinite(self.ref[i])), "reference went non-finite (test bug)"
            ratio = self.violation(i)
            if np.max(ratio) > 1.0:
                bad = np.flatnonzero(ratio.ravel() > 1.0)
                j = int(np.argmax(ratio.ravel()))
                f, r = self.fast[i].ravel(), self.ref[i].ravel()
                w = self.twin().p[i].ravel()[j]
                raise AssertionError(
                    f"{self.name}({self.kwargs}) array {i} shape {self.shapes[i]} after "
                    f"{self.steps_done} steps: {bad.size} of {f.size} elements outside the tolerance; "
                    f"worst element {j}: fastmlp {f[j]!r} reference {r[j]!r} (float32 twin {w!r}) "
                    f"|diff| {abs(f[j] - r[j]):.3e} = {ratio.ravel()[j]:.3g} x tolerance "
                    f"(L={self.reference.path[i].ravel()[j]:.3e})"
                )
        assert self.opt.iterations == self.steps_done
        return self


def max_ratio(traj, i=0):
    return float(np.max(traj.violation(i)))


# ------------------------------------------------------------- option grid
def _grid():
    cases = []
    for momentum, dampening, nesterov in [(0, 0, False), (0.9, 0, False), (0.9, 0.3, False), (0.9, 0, True)]:
        for wd in (0, 0.01):
            for maximize in (False, True):
                cases.append(
                    (
                        "SGD",
                        dict(
                            lr=0.01,
                            momentum=momentum,
                            dampening=dampening,
                            weight_decay=wd,
                            nesterov=nesterov,
                            maximize=maximize,
                        ),
                    )
                )
    for lr_decay in (0, 0.05):
        for wd in (0, 0.01):
            for iav in (0, 0.1):
                for maximize in (False, True):
                    cases.append(
                        (
                            "Adagrad",
                            dict(
                                lr=0.05,
                                lr_decay=lr_decay,
                                weight_decay=wd,
                                initial_accumulator_value=iav,
                                eps=1e-10,
                                maximize=maximize,
                            ),
                        )
                    )
    for centered in (False, True):
        for momentum in (0, 0.9):
            for wd in (0, 0.01):
                for maximize in (False, True):
                    cases.append(
                        (
                            "RMSprop",
                            dict(
                                lr=1e-3,
                                alpha=0.99,
                                eps=1e-8,
                                weight_decay=wd,
                                momentum=momentum,
                                centered=centered,
                                maximize=maximize,
                            ),
                        )
                    )
    for name, wds in (("Adam", (0, 0.01)), ("AdamW", (0, 0.1))):
        for amsgrad in (False, True):
            for wd in wds:
                for maximize in (False, True):
                    cases.append(
                        (
                            name,
                            dict(
                                lr=3e-3,
                                betas=(0.9, 0.999),
                                eps=1e-8,
                                weight_decay=wd,
                                amsgrad=amsgrad,
                                maximize=maximize,
                            ),
                        )
                    )
    for wd in (0, 0.01):
        for maximize in (False, True):
            cases.append(("Adamax", dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd, maximize=maximize)))
    for wd, decoupled in ((0, False), (0.01, False), (0.1, True)):
        for momentum_decay in (4e-3, 0.1):
            for maximize in (False, True):
                cases.append(
                    (
                        "NAdam",
                        dict(
                            lr=2e-3,
                            betas=(0.9, 0.999),
                            eps=1e-8,
                            weight_decay=wd,
                            momentum_decay=momentum_decay,
                            decoupled_weight_decay=decoupled,
                            maximize=maximize,
                        ),
                    )
                )
    for wd, decoupled in ((0, False), (0.01, False), (0.1, True)):
        for maximize in (False, True):
            # default betas: rho_t crosses 5 at t = 6, so both branches run
            cases.append(
                (
                    "RAdam",
                    dict(
                        lr=1e-3,
                        betas=(0.9, 0.999),
                        eps=1e-8,
                        weight_decay=wd,
                        decoupled_weight_decay=decoupled,
                        maximize=maximize,
                    ),
                )
            )
    for rho in (0.9, 0.5):
        for wd in (0, 0.01):
            for maximize in (False, True):
                cases.append(("Adadelta", dict(lr=1.0, rho=rho, eps=1e-6, weight_decay=wd, maximize=maximize)))
    for wd in (0, 0.1):
        for maximize in (False, True):
            cases.append(("Lion", dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=wd, maximize=maximize)))
    return cases


GRID = _grid()


def _id(case):
    name, kwargs = case
    short = {
        "weight_decay": "wd",
        "momentum": "mom",
        "dampening": "damp",
        "maximize": "max",
        "nesterov": "nest",
        "initial_accumulator_value": "iav",
        "decoupled_weight_decay": "dwd",
        "momentum_decay": "mdecay",
        "centered": "cent",
        "amsgrad": "ams",
    }
    parts = [
        f"{short.get(k, k)}={v}" for k, v in kwargs.items() if k not in ("lr", "betas", "eps") and v not in (False,)
    ]
    return name + ("[" + ",".join(parts) + "]" if parts else "")


# The most featureful configuration of each optimizer (every state buffer in use).
RICH = {
    "SGD": dict(lr=0.01, momentum=0.9, dampening=0.3, weight_decay=0.01),
    "Adagrad": dict(lr=0.05, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1),
    "RMSprop": dict(lr=1e-3, weight_decay=0.01, momentum=0.9, centered=True),
    "Adam": dict(lr=3e-3, weight_decay=0.01, amsgrad=True),
    "AdamW": dict(lr=3e-3, weight_decay=0.1, amsgrad=True),
    "Adamax": dict(lr=2e-3, weight_decay=0.01),
    "NAdam": dict(lr=2e-3, weight_decay=0.1, decoupled_weight_decay=True),
    "RAdam": dict(lr=1e-3, weight_decay=0.01),
    "Adadelta": dict(lr=1.0, rho=0.9, weight_decay=0.01),
    "Lion": dict(lr=1e-3, weight_decay=0.1),
}


# ------------------------------------------------ rules, every option, sizes
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", GRID, ids=[_id(c) for c in GRID])
def test_matches_torch_rule(case, size):
    name, kwargs = case
    Trajectory(name, kwargs, [size], seed=size).run(STEPS).check()


@pytest.mark.parametrize("name", NAMES)
def test_several_arrays_in_one_step(name):
    traj = Trajectory(name, RICH[name], [(13, 7), (7,), (3, 2, 5)], seed=5).run(STEPS).check()
    assert traj.opt.iterations == STEPS


@pytest.mark.parametrize("name", NAMES)
def test_gradients_of_any_float_dtype(name):
    # float64 / float16 gradients update exactly as their float32 conversion does
    g = gradients((50,), 3, 8)
    results = []
    for dtype in (np.float32, np.float64, np.float16):
        p = start_params((50,), 8)
        opt = optimizer_class(name)([p], **RICH[name])
        for t in range(3):
            opt.step([g[t].astype(dtype)])
        results.append(p)
        if dtype is np.float16:  # compare against float32(float16(g))
            p32 = start_params((50,), 8)
            opt32 = optimizer_class(name)([p32], **RICH[name])
            for t in range(3):
                opt32.step([g[t].astype(np.float16).astype(np.float32)])
            np.testing.assert_array_equal(p, p32)
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("name", NAMES)
def test_one_and_two_threads_agree_bit_for_bit(name):
    results = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        traj = Trajectory(name, RICH[name], [100_003, 40_001], seed=3).run(20, check_grads=False)
        results.append([p.copy() for p in traj.fast])
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
    traj.check()


# ------------------------------------- the tolerance can tell conventions apart
class AdamEpsInsideSqrt(ref.Adam):
    """Wrong: denom = sqrt(v_hat + eps)."""

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        t, lr, b1, b2 = self.t, self._current_lr(), self.beta1, self.beta2
        m = b1 * self._buffer("exp_avg", p) + (1 - b1) * g
        v = b2 * self._buffer("exp_avg_sq", p) + (1 - b2) * g * g
        self.state["exp_avg"], self.state["exp_avg_sq"] = m, v
        return p - lr * (m / (1 - b1**t)) / np.sqrt(v / (1 - b2**t) + self.eps)


class AdamEpsHat(ref.Adam):
    """Wrong (Keras / the Adam paper's "efficient" form): lr_t = lr*sqrt(bc2)/bc1,
    denom = sqrt(v) + eps, i.e. eps added BEFORE the bias correction."""

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        t, lr, b1, b2 = self.t, self._current_lr(), self.beta1, self.beta2
        m = b1 * self._buffer("exp_avg", p) + (1 - b1) * g
        v = b2 * self._buffer("exp_avg_sq", p) + (1 - b2) * g * g
        self.state["exp_avg"], self.state["exp_avg_sq"] = m, v
        return p - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + self.eps)


class SGDDampedFirstBuffer(ref.SGD):
    """Wrong: the first momentum buffer is (1 - dampening) * g (a zero-initialised buffer)."""

    def step(self, param, grad):
        if "momentum_buffer" not in self.state:
            self.state["momentum_buffer"] = np.zeros(np.shape(param))
        return super().step(param, grad)


class AdagradDecayOffByOne(ref.Adagrad):
    """Wrong: clr = lr / (1 + t * lr_decay)."""

    def _current_lr(self):
        return super()._current_lr() * (1 + (self.t - 1) * self.lr_decay) / (1 + self.t * self.lr_decay)


class RMSpropEpsInsideSqrt(ref.RMSprop):
    """Wrong (TensorFlow/Keras): avg = sqrt(v + eps)."""

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        v = self.alpha * self._buffer("square_avg", p) + (1 - self.alpha) * g * g
        self.state["square_avg"] = v
        return p - self._current_lr() * g / np.sqrt(v + self.eps)


class AdamaxEpsOutsideMax(ref.Adamax):
    """Wrong (Keras): u = max(beta2 * u, |g|), step m / (u + eps)."""

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        m = b1 * self._buffer("exp_avg", p) + (1 - b1) * g
        u = np.maximum(b2 * self._buffer("exp_inf", p), np.abs(g))
        self.state["exp_avg"], self.state["exp_inf"] = m, u
        return p - self._current_lr() / (1 - b1**self.t) * m / (u + self.eps)


class NAdamOldMuProduct(ref.NAdam):
    """Wrong (torch < 1.13 bug): mu_product_next = mu_product * mu * mu_next."""

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        t, lr, b1, b2, psi = self.t, self._current_lr(), self.beta1, self.beta2, self.momentum_decay
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        self.mu_product *= mu
        m = b1 * self._buffer("exp_avg", p) + (1 - b1) * g
        v = b2 * self._buffer("exp_avg_sq", p) + (1 - b2) * g * g
        self.state["exp_avg"], self.state["exp_avg_sq"] = m, v
        denom = np.sqrt(v / (1 - b2**t)) + self.eps
        p = p - (lr * (1 - mu) / (1 - self.mu_product)) * g / denom
        return p - (lr * mu_next / (1 - self.mu_product * mu * mu_next)) * m / denom


class RAdamThreshold4(ref.RAdam):
    """Wrong (the RAdam paper's rho_t > 4): rectifies from t = 5 (rho_5 = 4.996)."""

    rho_threshold = 4.0


class RAdamAdamEps(ref.RAdam):
    """Wrong: Adam's eps placement, sqrt(v / bc2) + eps."""

    def step(self, param, grad):
        t = self.t + 1
        saved = self.eps
        self.eps = saved * math.sqrt(1 - self.beta2**t)  # sqrt(v)+eps*sqrt(bc2) == sqrt(bc2)*(sqrt(v/bc2)+eps)
        try:
            return super().step(param, grad)
        finally:
            self.eps = saved


class AdadeltaEpsOutsideSqrt(ref.Adadelta):
    """Wrong: delta = (sqrt(u) + eps) / (sqrt(v) + eps) * g."""

    def step(self, param, grad):
        p, g = self._inputs(param, grad)
        self.t += 1
        rho, eps = self.rho, self.eps
        v = rho * self._buffer("square_avg", p) + (1 - rho) * g * g
        u = self._buffer("acc_delta", p)
        delta = (np.sqrt(u) + eps) / (np.sqrt(v) + eps) * g
        self.state["square_avg"], self.state["acc_delta"] = v, rho * u + (1 - rho) * delta * delta
        return p - self._current_lr() * delta


class LionSwappedBetas(ref.Lion):
    """Wrong: beta2 interpolates c, beta1 tracks m."""

    def __init__(self, lr=1e-4, betas=(0.9, 0.99), **kwargs):
        super().__init__(lr=lr, betas=(betas[1], betas[0]), **kwargs)


# name, kwargs, wrong reference, gradient magnitude range (log10), start
CONVENTIONS = [
    ("Adam", dict(lr=1e-3), AdamEpsInsideSqrt, (-9, -7), "zeros"),
    ("Adam", dict(lr=1e-3), AdamEpsHat, (-9, -7), "zeros"),
    ("AdamW", dict(lr=1e-3, weight_decay=0.0), AdamEpsHat, (-9, -7), "zeros"),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.5), SGDDampedFirstBuffer, (-7, 0), "zeros"),
    ("Adagrad", dict(lr=0.05, lr_decay=0.1), AdagradDecayOffByOne, (-7, 0), "zeros"),
    ("RMSprop", dict(lr=1e-3), RMSpropEpsInsideSqrt, (-9, -7), "zeros"),
    # beta2 < 0.999 so that max(beta2*u, |g|+eps) often keeps beta2*u (the case that differs)
    ("Adamax", dict(lr=2e-3, betas=(0.9, 0.9)), AdamaxEpsOutsideMax, (-9, -7), "zeros"),
    ("NAdam", dict(lr=2e-3), NAdamOldMuProduct, (-7, 0), "zeros"),
    ("RAdam", dict(lr=1e-3), RAdamThreshold4, (-7, 0), "zeros"),
    ("RAdam", dict(lr=1e-3), RAdamAdamEps, (-9, -7), "zeros"),
    ("Adadelta", dict(lr=1.0), AdadeltaEpsOutsideSqrt, (-7, 0), "zeros"),
    ("Lion", dict(lr=1e-3), LionSwappedBetas, (-7, 0), "zeros"),
]


@pytest.mark.parametrize("case", CONVENTIONS, ids=[f"{c[0]}-vs-{c[2].__name__}" for c in CONVENTIONS])
def test_the_tolerance_tells_conventions_apart(case):
    name, kwargs, wrong, (low, high), start = case
    steps = 30
    traj = Trajectory(name, kwargs, [2000], seed=9, start=start).run(steps, low=low, high=high).check()
    other = ReferenceRun(wrong, kwargs, traj.starts)
    for step_grads in traj.history:
        other.step(step_grads)
    # fastmlp against the wrong rule, with the (correct) reference's tolerance
    ratio = float(np.max(traj.violation(0, against=other.p[0])))
    assert ratio > DISTINCT, f"{wrong.__name__} is only {ratio:.3g} x the tolerance away from fastmlp"


# ------------------------------------------------------ property-based tests
def _hyper(name):
    lr = st.floats(1e-4, 0.1)
    beta = st.floats(0.0, 0.999)
    eps = st.floats(1e-10, 1e-3)
    wd = st.sampled_from([0.0]) | st.floats(1e-4, 0.1)
    flag = st.booleans()
    if name == "SGD":

        def sgd(momentum, dampening, nesterov, **rest):
            if nesterov:
                momentum, dampening = max(momentum, 0.01), 0.0
            return dict(momentum=momentum, dampening=dampening, nesterov=nesterov, **rest)

        return st.builds(
            sgd,
            momentum=st.floats(0, 0.99),
            dampening=st.floats(0, 0.9),
            nesterov=flag,
            lr=lr,
            weight_decay=wd,
            maximize=flag,
        )
    if name == "Adagrad":
        return st.fixed_dictionaries(
            dict(
                lr=lr,
                lr_decay=st.floats(0, 0.5),
                weight_decay=wd,
                initial_accumulator_value=st.floats(0, 1),
                eps=eps,
                maximize=flag,
            )
        )
    if name == "RMSprop":
        return st.fixed_dictionaries(
            dict(
                lr=st.floats(1e-4, 1e-2),
                alpha=st.floats(0.5, 0.999),
                eps=eps,
                weight_decay=wd,
                momentum=st.floats(0, 0.95),
                centered=flag,
                maximize=flag,
            )
        )
    if name in ("Adam", "AdamW"):
        return st.fixed_dictionaries(
            dict(lr=lr, betas=st.tuples(beta, beta), eps=eps, weight_decay=wd, amsgrad=flag, maximize=flag)
        )
    if name == "Adamax":
        return st.fixed_dictionaries(dict(lr=lr, betas=st.tuples(beta, beta), eps=eps, weight_decay=wd, maximize=flag))
    if name == "NAdam":
        return st.fixed_dictionaries(
            dict(
                lr=lr,
                betas=st.tuples(beta, beta),
                eps=eps,
                weight_decay=wd,
                momentum_decay=st.floats(0, 0.1),
                decoupled_weight_decay=flag,
                maximize=flag,
            )
        )
    if name == "RAdam":
        return st.fixed_dictionaries(
            dict(
                lr=lr, betas=st.tuples(beta, beta), eps=eps, weight_decay=wd, decoupled_weight_decay=flag, maximize=flag
            )
        )
    if name == "Adadelta":
        return st.fixed_dictionaries(
            dict(lr=st.floats(1e-2, 1.0), rho=st.floats(0, 0.99), eps=eps, weight_decay=wd, maximize=flag)
        )
    if name == "Lion":
        return st.fixed_dictionaries(dict(lr=lr, betas=st.tuples(beta, beta), weight_decay=wd, maximize=flag))
    raise KeyError(name)


@pytest.mark.parametrize("name", NAMES)
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), size=st.integers(1, 300), steps=st.integers(1, 25), seed=st.integers(0, 2**16))
def test_property_matches_torch_rule(name, data, size, steps, seed):
    kwargs = data.draw(_hyper(name), label="hyperparameters")
    if name == "RAdam":
        # rho_t == 5 exactly is a tie between the two branches; float32 and
        # float64 may take different sides of it.
        probe = ref.RAdam(**kwargs)
        assume(all(abs(probe.rho(t) - 5.0) > 1e-6 for t in range(1, steps + 1)))
    Trajectory(name, kwargs, [size], seed=seed).run(steps).check()


# --------------------------------------------------------------- defaults
TORCH_DEFAULTS = {
    "SGD": dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False),
    "Adagrad": dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False),
    "RMSprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False),
    "Adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False),
    "AdamW": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False),
    "Adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False),
    "NAdam": dict(
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        maximize=False,
    ),
    "RAdam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, maximize=False),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False),
    "Lion": dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False),
}


def _defaults(cls):
    return {k: p.default for k, p in inspect.signature(cls).parameters.items()}


@pytest.mark.parametrize("name", NAMES)
def test_defaults_equal_torch(name):
    expected = TORCH_DEFAULTS[name]
    defaults = _defaults(optimizer_class(name))
    assert list(defaults)[0] == "params" and defaults.pop("params") is None
    # torch's order, so positional calls mean the same thing
    assert list(defaults)[: len(expected)] == list(expected)
    for key, value in expected.items():
        got = tuple(defaults[key]) if isinstance(value, tuple) else defaults[key]
        assert got == value, f"{name}({key}=...) defaults to {got!r}, torch to {value!r}"
    # the reference agrees (a check of the test itself)
    ref_defaults = _defaults(REFERENCES[name])
    for key, value in expected.items():
        assert ref_defaults[key] == value
    # and a default-constructed optimizer follows the default rule
    Trajectory(name, {}, [500], seed=2).run(30).check()


# ------------------------------------------------------ invalid arguments
INVALID = [
    # (optimizer, kwargs, the argument the message must name)
    *[(n, dict(lr=-1e-3), r"\blr\b") for n in NAMES],
    *[(n, dict(lr=0.0), r"\blr\b") for n in NAMES],
    *[(n, dict(lr=float("nan")), r"\blr\b") for n in NAMES],
    *[(n, dict(weight_decay=-0.1), r"weight_decay") for n in NAMES],
    *[(n, dict(eps=-1e-8), r"eps") for n in NAMES if n not in ("SGD", "Lion")],
    *[
        (n, dict(betas=b), r"beta")
        for n in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Lion")
        for b in ((1.0, 0.999), (-0.1, 0.999), (0.9, 1.0), (0.9, -0.5))
    ],
    ("SGD", dict(momentum=-0.9), r"momentum"),
    ("SGD", dict(nesterov=True), r"(?i)nesterov"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), r"(?i)nesterov"),
    ("RMSprop", dict(momentum=-0.5), r"momentum"),
    ("RMSprop", dict(alpha=-0.1), r"\balpha\b"),
    ("RMSprop", dict(alpha=1.5), r"\balpha\b"),
    ("Adagrad", dict(lr_decay=-0.1), r"lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-0.1), r"initial_accumulator_value"),
    ("NAdam", dict(momentum_decay=-1e-3), r"momentum_decay"),
    ("Adadelta", dict(rho=-0.1), r"\brho\b"),
    ("Adadelta", dict(rho=1.5), r"\brho\b"),
]


@pytest.mark.parametrize("name,kwargs,pattern", INVALID, ids=[f"{n}-{k}" for n, k, _ in INVALID])
def test_invalid_hyperparameters_raise_naming_the_argument(name, kwargs, pattern):
    cls = optimizer_class(name)
    with pytest.raises(ValueError) as info:
        cls([np.zeros(3, np.float32)], **kwargs)
    assert re.search(pattern, str(info.value)), f"message {str(info.value)!r} does not name {pattern}"
    with pytest.raises(ValueError):  # also without parameters (for model.compile)
        cls(**kwargs)


def test_valid_edge_hyperparameters_are_accepted():
    p = [np.zeros(3, np.float32)]
    fastmlp.optim.SGD(p, momentum=0.9, nesterov=True)
    fastmlp.optim.Adam(p, betas=(0.0, 0.0), eps=0.0, weight_decay=0.0)
    fastmlp.optim.RMSprop(p, alpha=0.0)
    fastmlp.optim.RMSprop(p, alpha=1.0)
    fastmlp.optim.Adadelta(p, rho=0.0)
    fastmlp.optim.Adadelta(p, rho=1.0)
    fastmlp.optim.NAdam(p, momentum_decay=0.0)


# ------------------------------------------------------------- state dicts
@pytest.mark.parametrize("save_at", [10, 0])
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_continues_bit_for_bit(name, save_at):
    kwargs = RICH[name]
    shapes = [(13, 7), (7,)]
    traj = Trajectory(name, kwargs, shapes, seed=4).run(save_at, grad_steps=20)
    saved = traj.opt.state_dict()
    saved_params = [p.copy() for p in traj.fast]
    assert saved["iterations"] == save_at
    assert len(saved["state"]) == len(shapes)
    traj.run(20 - save_at, grad_steps=20)  # the original keeps going (its buffers must not be shared with `saved`)
    traj.check()

    fresh_params = [p.copy() for p in saved_params]
    fresh = optimizer_class(name)(fresh_params, **kwargs)
    fresh.load_state_dict(copy.deepcopy(saved))
    assert fresh.iterations == save_at
    grads = [gradients(s, 20, 4 + i) for i, s in enumerate(shapes)]
    for t in range(save_at, 20):
        fresh.step([g[t].copy() for g in grads])
    assert fresh.iterations == 20
    for a, b in zip(traj.fast, fresh_params):
        np.testing.assert_array_equal(a, b)


def test_nadam_state_dict_keeps_the_momentum_product():
    # mu_product is per-step scalar state: losing it restarts the bias correction.
    traj = Trajectory("NAdam", dict(lr=2e-3, momentum_decay=0.1), [50], seed=1).run(10, grad_steps=20)
    saved = traj.opt.state_dict()
    params = traj.fast[0].copy()
    traj.run(10, grad_steps=20).check()
    fresh = fastmlp.optim.NAdam([params], lr=2e-3, momentum_decay=0.1)
    fresh.load_state_dict(saved)
    g = gradients((50,), 20, 1)
    for t in range(10, 20):
        fresh.step([g[t].copy()])
    np.testing.assert_array_equal(params, traj.fast[0])


# --------------------------------------------------------------- schedules
@pytest.mark.parametrize("name", NAMES)
def test_learning_rate_schedule(name):
    calls = []

    def schedule(step):
        calls.append(step)
        return 0.01 * 0.9**step

    kwargs = dict(RICH[name], lr=schedule)
    # the reference gets the same schedule, but must not feed `calls`
    traj = Trajectory(name, kwargs, [(13, 7), (7,)], seed=6, ref_kwargs=dict(kwargs, lr=lambda step: 0.01 * 0.9**step))
    traj.run(40).check()
    steps_seen = list(dict.fromkeys(calls))  # in order, without repeats
    assert steps_seen == list(range(40)), f"the schedule was called with {steps_seen[:5]}... (0 on the first update)"
    # a constant lr gives a different trajectory (the schedule was really used)
    const = Trajectory(name, dict(RICH[name], lr=0.01), [(13, 7), (7,)], seed=6).run(40)
    assert not np.array_equal(const.fast[0], traj.fast[0])


# ------------------------------------------------- moving averages at weight 1
@pytest.mark.parametrize(
    "name,kwargs,key",
    [
        ("Adam", dict(betas=(0.0, 0.999)), "exp_avg"),
        ("AdamW", dict(betas=(0.0, 0.999)), "exp_avg"),
        ("Adamax", dict(betas=(0.0, 0.999)), "exp_avg"),
        ("NAdam", dict(betas=(0.0, 0.999)), "exp_avg"),
        ("RAdam", dict(betas=(0.0, 0.999)), "exp_avg"),
        ("RMSprop", dict(alpha=0.0, centered=True), "grad_avg"),
    ],
)
def test_moving_average_with_weight_one_is_the_gradient(name, kwargs, key):
    # torch updates these averages with lerp(avg, g, w); at w = 1 - beta = 1 its
    # kernel (end - (end - self) * (1 - w) for w >= 0.5) returns g exactly, and
    # the float64 rule beta * avg + (1 - beta) * g is g as well. Written as
    # avg + w * (g - avg) for every w, the result carries the rounding of
    # g - avg: an error of ulp(old avg), 10% of a small new g here.
    p = np.zeros(3, np.float32)
    opt = optimizer_class(name)([p], **kwargs)
    opt.step([np.array([0.5, -0.5, 3.0], np.float32)])
    g = np.array([1e-6, 2e-7, -1e-5], np.float32)
    opt.step([g])
    np.testing.assert_allclose(opt.state_dict()["state"][0][key], g, rtol=1e-6, atol=0)


# ------------------------------------------------------------- Lion sign(0)
def test_lion_sign_of_zero_is_zero():
    p = np.array([1.0, -2.0, 0.5], np.float32)
    opt = fastmlp.optim.Lion([p], lr=0.1)
    opt.step([np.zeros(3, np.float32)])
    np.testing.assert_array_equal(p, np.array([1.0, -2.0, 0.5], np.float32))
    opt.step([np.array([0.0, 1e-30, -1e-30], np.float32)])
    np.testing.assert_array_equal(p, np.array([1.0, -2.1, 0.6], np.float32))


# --------------------------------------------------------- gradient clipping
def _clip_grads(seed, scale):
    rng = np.random.default_rng(seed)
    shapes = [(13, 7), (7,), (40_001,)]
    return [(rng.normal(size=s) * scale).astype(np.float32) for s in shapes]


@pytest.mark.parametrize("scale,max_norm", [(1.0, 5.0), (1.0, 1e6), (1e-3, 0.1), (10.0, 1.0)])
def test_clip_grad_norm_matches_numpy(scale, max_norm):
    grads = _clip_grads(0, scale)
    before = [g.copy() for g in grads]
    objects = [id(g) for g in grads]
    total = fastmlp.optim.clip_grad_norm_(grads, max_norm)
    expected_total = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in before))
    assert isinstance(total, float)
    assert total == pytest.approx(expected_total, rel=1e-6)
    assert [id(g) for g in grads] == objects
    coef = max_norm / (expected_total + 1e-6)
    for g, b in zip(grads, before):
        if coef < 1.0:
            expected = (b.astype(np.float64) * coef).astype(np.float32)
            np.testing.assert_array_max_ulp(g, expected, maxulp=2)
        else:
            np.testing.assert_array_equal(g, b)
    if coef < 1.0:
        clipped = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
        assert clipped == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_of_zeros_and_threads():
    zeros = [np.zeros(10, np.float32), np.zeros((3, 3), np.float32)]
    assert fastmlp.optim.clip_grad_norm_(zeros, 1.0) == 0.0
    assert all(np.all(z == 0) for z in zeros)
    totals, results = [], []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        grads = _clip_grads(1, 10.0)
        totals.append(fastmlp.optim.clip_grad_norm_(grads, 1.0))
        results.append(grads)
    assert totals[0] == totals[1]
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("clip_value", [0.5, 1e-3, 100.0])
def test_clip_grad_value_matches_numpy(clip_value):
    grads = _clip_grads(2, 1.0)
    expected = [np.clip(g, -clip_value, clip_value) for g in grads]
    objects = [id(g) for g in grads]
    result = fastmlp.optim.clip_grad_value_(grads, clip_value)
    assert result is None or result is grads
    assert [id(g) for g in grads] == objects
    for g, e in zip(grads, expected):
        np.testing.assert_array_equal(g, e)


# ----------------------------------------------------------- tolerance report
def tolerance_report():  # pragma: no cover - run by hand, see the module docstring
    """Per optimizer, over the grid: the worst error / (RTOL term) of fastmlp and
    of the float32 twin, and the worst error / (full tolerance)."""
    worst = {}
    for name, kwargs in GRID:
        for size in SIZES:
            traj = Trajectory(name, kwargs, [size], seed=size).run(STEPS)
            plain = traj.tolerance(0, with_twin=False)
            fast = float(np.max(np.abs(traj.fast[0] - traj.ref[0]) / plain))
            twin = float(np.max(np.abs(traj.twin().p[0].astype(np.float64) - traj.ref[0]) / plain))
            full = max_ratio(traj)
            w = worst.setdefault(name, [0.0, 0.0, 0.0, None])
            if fast > w[0]:
                w[0], w[3] = fast, (kwargs, size)
            w[1], w[2] = max(w[1], twin), max(w[2], full)
    for name, (fast, twin, full, where) in worst.items():
        print(
            f"{name:9s} fastmlp {fast:.3g}  float32 twin {twin:.3g}  (x RTOL term)   "
            f"final {full:.3g}   worst at {where}"
        )


if __name__ == "__main__":  # pragma: no cover
    tolerance_report()
