"""Learning-rate schedules: immutable callables ``schedule(step) -> float``.

``step`` is the number of optimizer updates already applied, so ``schedule(0)``
is the learning rate of the first update (as with Keras's
``LearningRateSchedule``, whose optimizers pass their ``iterations`` counter).
Torch schedulers count the same way when ``scheduler.step()`` is called once
per optimizer update: torch's ``last_epoch`` equals our ``step``.

Every schedule

* is an immutable value (a frozen dataclass: equal configurations compare
  equal and hash alike; assigning an attribute raises an ``AttributeError``);
* validates its arguments when built, raising a ``ValueError`` (or a
  ``TypeError`` for the wrong kind of value) that names the argument;
* takes a non-negative integer ``step`` (``int`` or a NumPy integer) and
  returns a Python ``float``;
* has ``get_config()``, a JSON-serializable dict of its constructor arguments,
  and ``from_config(config)``; ``serialize`` / ``deserialize`` add the class
  name, for schedules that nest (``LinearWarmup``);
* composes: ``LinearWarmup`` puts a linear ramp in front of any schedule.

Decay factors (``gamma``, ``decay_rate``, ``m_mul``) must lie in (0, 1]: a
schedule that grows without bound is rejected rather than overflowing.

This module is pure Python; it does not use the compiled core.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import numbers
import operator
from typing import Any, Callable, ClassVar, Union

__all__ = [
    "LearningRateSchedule",
    "Constant",
    "StepDecay",
    "MultiStepDecay",
    "ExponentialDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "PolynomialDecay",
    "LinearWarmup",
    "OneCycle",
    "resolve",
    "serialize",
    "deserialize",
]


# --------------------------------------------------------------------------
# Argument checks: each returns the normalized value or raises an error that
# names the argument.
# --------------------------------------------------------------------------


def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"Invalid {name}: {value!r} (must be finite)")
    return number


def _positive(name: str, value) -> float:
    number = _real(name, value)
    if number <= 0.0:
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number > 0)")
    return number


def _non_negative(name: str, value) -> float:
    number = _real(name, value)
    if number < 0.0:
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number >= 0)")
    return number


def _fraction(name: str, value, *, low_open: bool = False) -> float:
    """A number in [0, 1] (or (0, 1] when low_open)."""
    number = _real(name, value)
    if number > 1.0 or number < 0.0 or (low_open and number == 0.0):
        bounds = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"Invalid {name}: {value!r} (must be in {bounds})")
    return number


def _integer(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if number < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (must be an integer >= {minimum})")
    return int(number)


def _boolean(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def _check_step(step) -> int:
    if isinstance(step, bool):
        raise TypeError("step must be an integer, got bool")
    try:
        number = operator.index(step)
    except TypeError:
        raise TypeError(
            f"step must be an integer (optimizer updates applied so far), got {type(step).__name__}"
        ) from None
    if number < 0:
        raise ValueError(f"Invalid step: {step!r} (must be >= 0)")
    return int(number)


# --------------------------------------------------------------------------
# Base class and (de)serialization
# --------------------------------------------------------------------------

_REGISTRY: dict[str, type[LearningRateSchedule]] = {}


class LearningRateSchedule:
    """Base class: subclasses are frozen dataclasses that implement
    ``_value(step: int) -> float``. ``__call__`` checks ``step`` and returns a
    Python float."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __call__(self, step) -> float:
        return float(self._value(_check_step(step)))

    def _value(self, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement _value(step)")

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments as a JSON-serializable dict:
        ``type(s).from_config(s.get_config()) == s``."""
        config = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            config[field.name] = list(value) if isinstance(value, tuple) else value
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, JSON-serializable."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"serialize() takes a LearningRateSchedule, got {type(schedule).__name__}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(data: dict[str, Any]) -> LearningRateSchedule:
    """The inverse of ``serialize``."""
    if not isinstance(data, dict) or "class_name" not in data or "config" not in data:
        raise ValueError(
            f"deserialize() takes a dict with 'class_name' and 'config' keys (as serialize() returns), got {data!r}"
        )
    cls = _REGISTRY.get(data["class_name"])
    if cls is None:
        raise ValueError(
            f"unknown schedule class_name {data['class_name']!r}; available: {', '.join(sorted(_REGISTRY))}"
        )
    return cls.from_config(dict(data["config"]))


def _set(obj, name: str, value) -> None:
    """Normalize a field of a frozen dataclass during __post_init__."""
    object.__setattr__(obj, name, value)


_frozen = dataclasses.dataclass(frozen=True)


# --------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------


@_frozen
class Constant(LearningRateSchedule):
    """A constant learning rate: ``lr(step) = learning_rate``.

    What a plain float means to the optimizers (see ``resolve``).
    """

    learning_rate: float

    def __post_init__(self):
        _set(self, "learning_rate", _positive("learning_rate", self.learning_rate))

    def _value(self, step: int) -> float:
        return self.learning_rate


@_frozen
class StepDecay(LearningRateSchedule):
    """Decay by ``gamma`` every ``step_size`` updates::

        lr(step) = initial_learning_rate * gamma ** (step // step_size)

    Matches PyTorch's ``StepLR`` when its ``scheduler.step()`` is called once
    per optimizer update (so ``step_size`` counts updates, not epochs; for
    epochs pass ``step_size = epochs * steps_per_epoch``).
    """

    initial_learning_rate: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        _set(self, "initial_learning_rate", _positive("initial_learning_rate", self.initial_learning_rate))
        _set(self, "step_size", _integer("step_size", self.step_size, minimum=1))
        _set(self, "gamma", _fraction("gamma", self.gamma, low_open=True))

    def _value(self, step: int) -> float:
        return self.initial_learning_rate * self.gamma ** (step // self.step_size)


@_frozen
class MultiStepDecay(LearningRateSchedule):
    """Decay by ``gamma`` at each milestone::

        lr(step) = initial_learning_rate * gamma ** (number of milestones m with m <= step)

    so the update at step ``m`` is the first to use the decayed rate. Matches
    PyTorch's ``MultiStepLR`` (closed form ``gamma ** bisect_right(milestones,
    last_epoch)``) stepped once per optimizer update. ``milestones`` must be
    strictly increasing positive integers (torch also accepts repeats, each
    counting once more; here that is an error, as is an empty list).
    """

    initial_learning_rate: float
    milestones: tuple[int, ...]
    gamma: float = 0.1

    def __post_init__(self):
        _set(self, "initial_learning_rate", _positive("initial_learning_rate", self.initial_learning_rate))
        if isinstance(self.milestones, (str, bytes)) or not hasattr(self.milestones, "__iter__"):
            raise TypeError(f"milestones must be a sequence of integers, got {type(self.milestones).__name__}")
        milestones = tuple(_integer("milestones", m, minimum=1) for m in self.milestones)
        if not milestones:
            raise ValueError("Invalid milestones: [] (need at least one; use Constant for no decay)")
        if any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"Invalid milestones: {list(milestones)} (must be strictly increasing)")
        _set(self, "milestones", milestones)
        _set(self, "gamma", _fraction("gamma", self.gamma, low_open=True))

    def _value(self, step: int) -> float:
        return self.initial_learning_rate * self.gamma ** bisect.bisect_right(self.milestones, step)


@_frozen
class ExponentialDecay(LearningRateSchedule):
    """Exponential decay, Keras's ``ExponentialDecay``::

        lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps)

    and with ``staircase=True`` the exponent is ``floor(step / decay_steps)``
    (decay in discrete jumps every ``decay_steps`` updates).

    Reference 004 writes exponential decay as ``lr(t) = lr0 * exp(-k * t)``.
    Since ``exp(-k) ** t == exp(-k * t)``, ``ExponentialDecay(lr0, 1,
    math.exp(-k))`` reproduces it with ``t`` counted in optimizer updates (to
    count ``t`` in epochs, use ``decay_steps=steps_per_epoch``; add
    ``staircase=True`` to hold the rate constant within an epoch).
    """

    initial_learning_rate: float
    decay_steps: int
    decay_rate: float
    staircase: bool = False

    def __post_init__(self):
        _set(self, "initial_learning_rate", _positive("initial_learning_rate", self.initial_learning_rate))
        _set(self, "decay_steps", _integer("decay_steps", self.decay_steps, minimum=1))
        _set(self, "decay_rate", _fraction("decay_rate", self.decay_rate, low_open=True))
        _set(self, "staircase", _boolean("staircase", self.staircase))

    def _value(self, step: int) -> float:
        exponent = step // self.decay_steps if self.staircase else step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate**exponent


@_frozen
class CosineDecay(LearningRateSchedule):
    """Cosine decay to ``alpha * initial_learning_rate``, Keras's
    ``CosineDecay`` (without its built-in warm-up; use ``LinearWarmup``)::

        completed = min(step, decay_steps) / decay_steps
        cosine    = 0.5 * (1 + cos(pi * completed))
        lr(step)  = initial_learning_rate * ((1 - alpha) * cosine + alpha)

    From ``step = decay_steps`` on, the rate stays at
    ``alpha * initial_learning_rate`` (0 with the default ``alpha=0``).
    ``alpha`` must be in [0, 1].
    """

    initial_learning_rate: float
    decay_steps: int
    alpha: float = 0.0

    def __post_init__(self):
        _set(self, "initial_learning_rate", _positive("initial_learning_rate", self.initial_learning_rate))
        _set(self, "decay_steps", _integer("decay_steps", self.decay_steps, minimum=1))
        _set(self, "alpha", _fraction("alpha", self.alpha))

    def _value(self, step: int) -> float:
        completed = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * completed))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)


@_frozen
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2016),
    Keras's ``CosineDecayRestarts``.

    Period ``i`` (from 0) lasts ``first_decay_steps * t_mul ** i`` updates and
    starts at update ``S_i = first_decay_steps * (t_mul ** i - 1) / (t_mul - 1)``
    (``first_decay_steps * i`` when ``t_mul == 1``). For ``S_i <= step < S_{i+1}``::

        completed = (step - S_i) / (first_decay_steps * t_mul ** i)
        cosine    = 0.5 * m_mul ** i * (1 + cos(pi * completed))
        lr(step)  = initial_learning_rate * ((1 - alpha) * cosine + alpha)

    This is Keras's arithmetic: with ``f = step / first_decay_steps``, Keras
    takes ``i = floor(f)`` and ``completed = f - i`` when ``t_mul == 1``, else
    ``i = floor(log(1 - f * (1 - t_mul)) / log(t_mul))``,
    ``completed = (f - (1 - t_mul ** i) / (1 - t_mul)) / t_mul ** i``. Keras
    evaluates that logarithm in float32, so exactly at a restart step rounding
    can put it one period early (``completed`` = 1, the bottom of the old
    period, instead of 0, the top of the new one); here ``i`` is corrected
    against ``S_i`` so that every restart step returns the restarted rate.

    Note that ``alpha`` is a fraction of ``initial_learning_rate`` and is not
    scaled by ``m_mul ** i`` (as in Keras). ``t_mul`` must be >= 1, ``m_mul``
    in (0, 1], ``alpha`` in [0, 1].
    """

    initial_learning_rate: float
    first_decay_steps: int
    t_mul: float = 2.0
    m_mul: float = 1.0
    alpha: float = 0.0

    def __post_init__(self):
        _set(self, "initial_learning_rate", _positive("initial_learning_rate", self.initial_learning_rate))
        _set(self, "first_decay_steps", _integer("first_decay_steps", self.first_decay_steps, minimum=1))
        t_mul = _real("t_mul", self.t_mul)
        if t_mul < 1.0:
            raise ValueError(f"Invalid t_mul: {self.t_mul!r} (must be >= 1; periods cannot shrink)")
        _set(self, "t_mul", t_mul)
        _set(self, "m_mul", _fraction("m_mul", self.m_mul, low_open=True))
        _set(self, "alpha", _fraction("alpha", self.alpha))

    def _period_start(self, i: int) -> float:
        """S_i: the update at which period i starts."""
        if self.t_mul == 1.0:
            return float(self.first_decay_steps * i)
        if i <= 64:
            # first * (1 + t + ... + t^(i-1)) term by term: the closed form
            # below rounds, and put S_1 (first itself) just above first for
            # some t (205.00000000000003 for first 205, t 2.5136...), which
            # moved that restart one update late.
            start, term = 0.0, float(self.first_decay_steps)
            for _ in range(i):
                start += term
                term *= self.t_mul
            return start
        try:
            growth = self.t_mul**i
        except OverflowError:  # a period longer than any float: never reached
            return math.inf
        return self.first_decay_steps * (growth - 1.0) / (self.t_mul - 1.0)

    def _restart(self, step: int) -> tuple[int, float]:
        """(period index i, fraction of period i completed)."""
        first, t_mul = self.first_decay_steps, self.t_mul
        if t_mul == 1.0:
            i = step // first
            return i, (step - i * first) / first
        fraction = step / first
        i = int(math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul)))
        # The logarithm may round across a period boundary: fix i exactly.
        while i > 0 and step < self._period_start(i):
            i -= 1
        while step >= self._period_start(i + 1):
            i += 1
        return i, (step - self._period_start(i)) / (first * t_mul**i)

    def _value(self, step: int) -> float:
        i, completed = self._restart(step)
        cosine = 0.5 * self.m_mul**i * (1.0 + math.cos(math.pi * completed))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)


@_frozen
class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay to ``end_learning_rate``, Keras's ``PolynomialDecay``::

        s        = min(step, decay_steps)
        lr(step) = (initial_learning_rate - end_learning_rate)
                   * (1 - s / decay_steps) ** power + end_learning_rate

    With ``cycle=True`` the horizon grows instead of the step being clamped:
    ``D = decay_steps * max(1, ceil(step / decay_steps))`` and
    ``lr = (initial - end) * (1 - step / D) ** power + end`` -- so the rate
    reaches ``end_learning_rate`` at every multiple of ``decay_steps`` and
    jumps back up (to less than the initial rate) on the next update.
    ``power=1`` is linear decay. ``end_learning_rate`` may be 0 and may exceed
    the initial rate (a polynomial ramp up); ``power`` must be > 0.
    """

    initial_learning_rate: float
    decay_steps: int
    end_learning_rate: float = 1e-4
    power: float = 1.0
    cycle: bool = False

    def __post_init__(self):
        _set(self, "initial_learning_rate", _positive("initial_learning_rate", self.initial_learning_rate))
        _set(self, "decay_steps", _integer("decay_steps", self.decay_steps, minimum=1))
        _set(self, "end_learning_rate", _non_negative("end_learning_rate", self.end_learning_rate))
        _set(self, "power", _positive("power", self.power))
        _set(self, "cycle", _boolean("cycle", self.cycle))

    def _value(self, step: int) -> float:
        if self.cycle:
            horizon = self.decay_steps * max(1, -(-step // self.decay_steps))  # exact integer ceil
            fraction = step / horizon
        else:
            fraction = min(step, self.decay_steps) / self.decay_steps
        delta = self.initial_learning_rate - self.end_learning_rate
        return delta * (1.0 - fraction) ** self.power + self.end_learning_rate


@_frozen
class LinearWarmup(LearningRateSchedule):
    """A linear warm-up in front of another schedule::

        target   = schedule(0)
        lr(step) = initial_learning_rate
                   + (target - initial_learning_rate) * step / warmup_steps   if step < warmup_steps
        lr(step) = schedule(step - warmup_steps)                              otherwise

    The wrapped schedule starts once the warm-up is over, so its own
    ``decay_steps`` etc. count updates after the warm-up and the curve is
    continuous at ``step = warmup_steps`` (where it equals ``target``). This
    is Keras's ``CosineDecay(..., warmup_target, warmup_steps)`` warm-up
    (linear from ``initial_learning_rate`` to the target, then the decay
    shifted by ``warmup_steps``), generalized to any schedule.

    ``schedule`` is a ``LearningRateSchedule`` or a positive number (a
    ``Constant``). With the default ``initial_learning_rate=0.0`` the first
    update (step 0) uses a rate of 0 and so changes nothing; pass a small
    positive ``initial_learning_rate`` to avoid that. ``warmup_steps=0`` means
    no warm-up.
    """

    schedule: LearningRateSchedule
    warmup_steps: int
    initial_learning_rate: float = 0.0

    def __post_init__(self):
        schedule = self.schedule
        if isinstance(schedule, numbers.Real) and not isinstance(schedule, bool):
            schedule = Constant(_positive("schedule", schedule))
        elif not isinstance(schedule, LearningRateSchedule):
            raise TypeError(
                "schedule must be a LearningRateSchedule or a number, got "
                f"{type(schedule).__name__} (subclass LearningRateSchedule to wrap your own)"
            )
        _set(self, "schedule", schedule)
        _set(self, "warmup_steps", _integer("warmup_steps", self.warmup_steps, minimum=0))
        _set(self, "initial_learning_rate", _non_negative("initial_learning_rate", self.initial_learning_rate))

    def _value(self, step: int) -> float:
        if step < self.warmup_steps:
            target = self.schedule(0)
            start = self.initial_learning_rate
            return start + (target - start) * step / self.warmup_steps
        return self.schedule(step - self.warmup_steps)

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": serialize(self.schedule),
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LinearWarmup:
        config = dict(config)
        if isinstance(config.get("schedule"), dict):
            config["schedule"] = deserialize(config["schedule"])
        return cls(**config)


@_frozen
class OneCycle(LearningRateSchedule):
    """The 1cycle learning-rate curve of PyTorch's ``OneCycleLR`` (the rate
    only: momentum is not cycled here), with ``total_steps`` optimizer updates.

    Rates: ``initial = max_learning_rate / div_factor``,
    ``min = initial / final_div_factor``. Phases, as ``(end step, from, to)``,
    with torch's end steps (note the ``- 1``: the last update is
    ``total_steps - 1``)::

        two phases (default):  (pct_start * total_steps - 1,     initial, max)
                               (total_steps - 1,                 max,     min)
        three_phase=True:      (pct_start * total_steps - 1,     initial, max)
                               (2 * pct_start * total_steps - 2, max,     initial)
                               (total_steps - 1,                 initial, min)

    ``step`` falls in the first phase whose end step is >= ``step`` (else the
    last phase); with ``start`` the previous phase's end step (0 for the
    first), ``pct = (step - start) / (end - start)`` and

        cos:     lr = to + (from - to) / 2 * (cos(pi * pct) + 1)
        linear:  lr = (to - from) * pct + from

    exactly as torch computes it (``step`` = torch's ``last_epoch``, which is
    0 for the first update). So ``lr(0) = initial``, the peak ``max`` is at
    update ``pct_start * total_steps - 1`` and ``lr(total_steps - 1) = min``.

    Differences from torch, both where torch gives no usable rate:

    * past the end, torch raises (for ``step > total_steps``) or extrapolates
      the last phase (at ``step == total_steps``, where the cosine turns back
      up and the linear form goes below ``min``, even negative); here every
      ``step >= total_steps - 1`` returns the final value ``lr(total_steps - 1)``;
    * a phase of zero length (``pct_start * total_steps == 1``, so the first
      phase ends at step 0) makes torch divide by zero; here that phase
      yields its end value (``pct = 1``).
    """

    max_learning_rate: float
    total_steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal_strategy: str = "cos"
    three_phase: bool = False

    _STRATEGIES: ClassVar[tuple[str, ...]] = ("cos", "linear")

    def __post_init__(self):
        _set(self, "max_learning_rate", _positive("max_learning_rate", self.max_learning_rate))
        _set(self, "total_steps", _integer("total_steps", self.total_steps, minimum=1))
        _set(self, "pct_start", _fraction("pct_start", self.pct_start))
        _set(self, "div_factor", _positive("div_factor", self.div_factor))
        _set(self, "final_div_factor", _positive("final_div_factor", self.final_div_factor))
        if self.anneal_strategy not in self._STRATEGIES:
            raise ValueError(f"Invalid anneal_strategy: {self.anneal_strategy!r} (must be 'cos' or 'linear')")
        _set(self, "three_phase", _boolean("three_phase", self.three_phase))
        initial = self.max_learning_rate / self.div_factor
        if not (initial > 0.0 and initial / self.final_div_factor > 0.0):
            raise ValueError(
                f"Invalid final_div_factor: {self.final_div_factor!r} (max_learning_rate / div_factor "
                "/ final_div_factor underflows to 0)"
            )

    def _phases(self):
        initial = self.max_learning_rate / self.div_factor
        peak = self.max_learning_rate
        final = initial / self.final_div_factor
        up_end = float(self.pct_start * self.total_steps) - 1
        if self.three_phase:
            return [
                (up_end, initial, peak),
                (float(2 * self.pct_start * self.total_steps) - 2, peak, initial),
                (self.total_steps - 1, initial, final),
            ]
        return [(up_end, initial, peak), (self.total_steps - 1, peak, final)]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _value(self, step: int) -> float:
        step = min(step, self.total_steps - 1)
        phases = self._phases()
        start_step = 0.0
        for i, (end_step, start_lr, end_lr) in enumerate(phases):
            if step <= end_step or i == len(phases) - 1:
                span = end_step - start_step
                pct = 1.0 if span == 0 else (step - start_step) / span
                return self._anneal(start_lr, end_lr, pct)
            start_step = end_step
        raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------

ScheduleLike = Union[float, LearningRateSchedule, Callable[[int], float]]


def resolve(learning_rate: ScheduleLike) -> Callable[[int], float]:
    """A ``step -> learning rate`` callable for an optimizer.

    * a number (``int``/``float``/NumPy float, not ``bool``) becomes
      ``Constant(learning_rate)``; it must be finite and > 0 (else ValueError);
    * a ``LearningRateSchedule`` is returned as is;
    * any other callable that is not a class (a user's ``lambda step: ...``)
      is also returned as is -- a schedule is any ``step -> float`` callable --
      but without validation or serialization;
    * anything else raises TypeError.
    """
    if isinstance(learning_rate, bool):
        raise TypeError("learning_rate must be a number or a schedule, got bool")
    if isinstance(learning_rate, numbers.Real):
        return Constant(_positive("learning_rate", learning_rate))
    if isinstance(learning_rate, LearningRateSchedule):
        return learning_rate
    if callable(learning_rate) and not isinstance(learning_rate, type):
        return learning_rate
    raise TypeError(
        f"learning_rate must be a number or a schedule (a callable step -> float), got {type(learning_rate).__name__}"
    )
