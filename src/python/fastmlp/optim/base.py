"""The Python side of an optimizer: validated hyperparameters, and a C++
kernel that applies the update rule to float32 buffers in one fused pass.

An optimizer is used one of two ways:
  * ``model.compile(optimizer=opt)`` binds it to the model's flat parameter
    buffer (the model then steps it inside its C++ training loop);
  * ``opt = Adam([w, b], lr=...)`` then ``opt.step([gw, gb])`` updates the
    NumPy arrays ``w`` and ``b`` in place (zero copy).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Callable, Union

import numpy as np

from . import schedules

LearningRate = Union[float, Callable[[int], float]]


# ----------------------------------------------------------------- checks
def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"Invalid {name}: {value!r} (must be finite)")
    return number


def check_positive(name: str, value) -> float:
    number = _number(name, value)
    if number <= 0.0:
        raise ValueError(f"Invalid {name}: {value!r} (must be > 0)")
    return number


def check_non_negative(name: str, value) -> float:
    number = _number(name, value)
    if number < 0.0:
        raise ValueError(f"Invalid {name}: {value!r} (must be >= 0)")
    return number


def check_fraction(name: str, value, *, closed: bool = False) -> float:
    """A number in [0, 1), or [0, 1] when `closed`."""
    number = _number(name, value)
    if number < 0.0 or number > 1.0 or (number == 1.0 and not closed):
        raise ValueError(f"Invalid {name}: {value!r} (must be in [0, {'1]' if closed else '1)'})")
    return number


def check_betas(name: str, betas) -> tuple[float, float]:
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {name}: {betas!r} (must be a pair)") from None
    return check_fraction(f"{name}[0]", b1), check_fraction(f"{name}[1]", b2)


def check_parameter_array(array, index: int) -> np.ndarray:
    """Parameters are updated in place, so they must already be writable
    C-contiguous float32 arrays: anything else would update a copy."""
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"parameter {index} must be a NumPy array, got {type(array).__name__} "
            "(for a PyTorch CPU tensor pass tensor.numpy())"
        )
    if array.dtype != np.float32:
        raise TypeError(f"parameter {index} has dtype {array.dtype}; optimizers update float32 arrays in place")
    if not array.flags.c_contiguous:
        raise ValueError(f"parameter {index} is not C-contiguous; an in-place update needs contiguous memory")
    if not array.flags.writeable:
        raise ValueError(f"parameter {index} is read-only")
    return array


def resolve_learning_rate(name: str, value) -> LearningRate:
    """A float > 0, or a schedule: any callable step -> learning rate."""
    if callable(value):
        return value
    return check_positive(name, value)


# ------------------------------------------------------------------- base
class Optimizer:
    """Base class. A subclass validates its hyperparameters, then calls
    ``super().__init__``, and sets them on its kernel in ``_configure``."""

    _lr_argument = "learning_rate"  # "lr" in the PyTorch namespace
    _kernel_class: type = None  # the _core class

    def __init__(self, params: Iterable[np.ndarray] | None, learning_rate: LearningRate):
        self._learning_rate = resolve_learning_rate(self._lr_argument, learning_rate)
        self._params: list[np.ndarray] = []
        if params is not None:
            if isinstance(params, np.ndarray):
                raise TypeError("params must be a list of arrays, e.g. [w, b]")
            self._params = [check_parameter_array(p, i) for i, p in enumerate(params)]
            if not self._params:
                raise ValueError("optimizer got an empty parameter list")
            if len({id(p) for p in self._params}) != len(self._params):
                raise ValueError("a parameter array appears more than once")
        self._kernel = self._new_kernel()
        if self._params:
            self._kernel.bind(sum(p.size for p in self._params))

    # ------------------------------------------------ kernel construction
    def _configure(self, kernel) -> None:
        """Copy hyperparameters onto the kernel (subclasses)."""

    def _new_kernel(self):
        kernel = self._kernel_class()
        self._configure(kernel)
        kernel.learning_rate = self._rate_at(0)
        return kernel

    def _bind_flat(self, size: int):
        """A fresh kernel and state sized for a model's flat parameter buffer."""
        if self._params:
            raise ValueError(
                "this optimizer already updates its own arrays; build another one (without params) for model.compile"
            )
        self._kernel = self._new_kernel()
        self._kernel.bind(size)
        return self._kernel

    # ------------------------------------------------------ learning rate
    def _rate_at(self, step: int) -> float:
        if not callable(self._learning_rate):
            return self._learning_rate
        value = self._learning_rate(step)
        try:
            # 0 is allowed here: schedules legitimately end (or warm up from) there.
            return check_non_negative(f"{self._lr_argument} schedule value at step {step}", value)
        except TypeError:
            raise TypeError(
                f"the {self._lr_argument} schedule returned {type(value).__name__} "
                f"at step {step}; it must return a number"
            ) from None

    def _rates_for_steps(self, first: int, count: int) -> np.ndarray | None:
        """Learning rates of `count` steps from `first`, or None when constant."""
        if not callable(self._learning_rate):
            return None
        return np.array([self._rate_at(first + k) for k in range(count)], dtype=np.float64)

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next update (a schedule is evaluated)."""
        return self._rate_at(self.iterations)

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        self._learning_rate = resolve_learning_rate(self._lr_argument, value)
        self._sync_learning_rate()

    def _sync_learning_rate(self) -> None:
        """Give the kernel the rate of its next update (a schedule evaluated)."""
        self._kernel.learning_rate = self._rate_at(self._kernel.iterations)

    @property
    def schedule(self):
        """The learning rate as given: a float or a schedule."""
        return self._learning_rate

    @property
    def iterations(self) -> int:
        """Updates applied so far."""
        return self._kernel.iterations

    # --------------------------------------------------------- standalone
    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Update the arrays given at construction, in place, from their gradients."""
        if not self._params:
            raise RuntimeError(
                "this optimizer has no arrays of its own: it was built without "
                "params (compile it into a model, which steps it)"
            )
        if isinstance(grads, np.ndarray):
            grads = [grads]
        grads = list(grads)
        if len(grads) != len(self._params):
            raise ValueError(f"step() got {len(grads)} gradients for {len(self._params)} parameters")
        converted = []
        for i, (param, grad) in enumerate(zip(self._params, grads)):
            if not isinstance(grad, np.ndarray):
                raise TypeError(f"gradient {i} must be a NumPy array, got {type(grad).__name__}")
            if grad.shape != param.shape:
                raise ValueError(f"gradient {i} has shape {grad.shape} but parameter {i} has shape {param.shape}")
            if grad.dtype.kind != "f":
                raise TypeError(f"gradient {i} has dtype {grad.dtype}; expected floats")
            converted.append(np.ascontiguousarray(grad, dtype=np.float32))
        self._sync_learning_rate()
        self._kernel.step(self._params, converted)

    # -------------------------------------------------------------- state
    def _sizes(self) -> list[int]:
        return [p.size for p in self._params] if self._params else [max(self._kernel.bound_size, 0)]

    def state_dict(self) -> dict:
        """{"iterations", "state": one dict per parameter array (per model for a
        compiled optimizer) of state arrays (copies) and scalars, "config"}."""
        kernel = self._kernel
        buffers = [kernel.state(i) for i in range(len(kernel.state_names))] if kernel.bound_size >= 0 else []
        scalars = {name: kernel.get_scalar(i) for i, name in enumerate(kernel.scalar_names)}
        per_param, start = [], 0
        for size in self._sizes():
            entry = {name: buffer[start : start + size].copy() for name, buffer in zip(kernel.state_names, buffers)}
            entry.update(scalars)
            per_param.append(entry)
            start += size
        return {"iterations": int(kernel.iterations), "state": per_param, "config": self.get_config()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict returned (for the same parameter shapes)."""
        kernel = self._kernel
        sizes = self._sizes()
        entries = state.get("state")
        if not isinstance(entries, list) or len(entries) != len(sizes):
            raise ValueError(
                f"state has {len(entries) if isinstance(entries, list) else 'no'} entries; "
                f"this optimizer has {len(sizes)} parameter arrays"
            )
        for i, (entry, size) in enumerate(zip(entries, sizes)):
            for name in kernel.state_names:
                if name not in entry:
                    raise ValueError(f"state entry {i} lacks {name!r}")
                if np.asarray(entry[name]).size != size:
                    raise ValueError(
                        f"state entry {i} {name!r} has {np.asarray(entry[name]).size} values; expected {size}"
                    )
        iterations = state.get("iterations")
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"invalid iterations in state: {iterations!r}")
        if kernel.bound_size != sum(sizes):
            kernel.bind(sum(sizes))
        for k, name in enumerate(kernel.state_names):
            buffer, start = kernel.state(k), 0
            for entry, size in zip(entries, sizes):
                buffer[start : start + size] = np.asarray(entry[name], dtype=np.float32).ravel()
                start += size
        for k, name in enumerate(kernel.scalar_names):
            if name in entries[0]:
                kernel.set_scalar(k, float(entries[0][name]))
        kernel.iterations = int(iterations)
        self._sync_learning_rate()

    def state_bytes(self) -> int:
        """Bytes of optimizer state (4 per value per state buffer)."""
        return 4 * max(self._kernel.bound_size, 0) * len(self._kernel.state_names)

    # ------------------------------------------------------------- report
    @classmethod
    def _public_name(cls) -> str:
        """How users spell the class: "Adam" or "keras.Adam"."""
        return cls.__name__

    def get_config(self) -> dict:
        """The constructor's arguments, JSON-serializable, plus ``"name"`` (the
        class as ``_public_name`` spells it); ``fastmlp.optim.from_config``
        rebuilds the optimizer from it. A ``LearningRateSchedule`` learning
        rate is stored as ``schedules.serialize(schedule)``. A plain callable
        (a lambda) cannot be stored: its ``repr`` stands in for it, and
        ``from_config`` (and ``model.save``) reject that config."""
        config = {"name": self._public_name()}
        rate = self._learning_rate
        if isinstance(rate, schedules.LearningRateSchedule):
            config[self._lr_argument] = schedules.serialize(rate)
        else:
            config[self._lr_argument] = rate if not callable(rate) else repr(rate)
        config.update(self._hyperparameters())
        return config

    def _hyperparameters(self) -> dict:
        return {}

    def __repr__(self) -> str:
        config = self.get_config()
        config[self._lr_argument] = self._learning_rate  # a schedule as itself, not its serialized dict
        args = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "name")
        return f"{self._public_name()}({args})"


class TorchOptimizer(Optimizer):
    """PyTorch's conventions: ``lr``, coupled ``weight_decay`` (L2 added to the
    gradient) unless the rule says otherwise, ``maximize``."""

    _lr_argument = "lr"
    _decoupled_weight_decay = False

    def __init__(self, params, lr, weight_decay=0.0, maximize=False):
        self.weight_decay = check_non_negative("weight_decay", weight_decay)
        self.maximize = bool(maximize)
        super().__init__(params, lr)

    @property
    def lr(self) -> float:
        return self.learning_rate

    @lr.setter
    def lr(self, value) -> None:
        self.learning_rate = value

    def _configure(self, kernel) -> None:
        kernel.maximize = self.maximize
        if self._decoupled_weight_decay:
            kernel.decoupled_weight_decay = self.weight_decay
            kernel.torch_decay_form = True  # p * (1 - lr * weight_decay), rounded as torch does
        else:
            kernel.l2_weight_decay = self.weight_decay

    def _hyperparameters(self) -> dict:
        return {"weight_decay": self.weight_decay, "maximize": self.maximize}


class KerasOptimizer(Optimizer):
    """Keras 3's conventions: ``learning_rate``; ``weight_decay`` decoupled
    (``p -= p * weight_decay * learning_rate`` before the update); at most one
    of ``clipnorm`` (per parameter array), ``clipvalue``, ``global_clipnorm``."""

    def __init__(self, params, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None):
        # As in Keras, 0 (or None) means no clipping.
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        clips = {k: (None if v is None or check_non_negative(k, v) == 0 else float(v)) for k, v in clips.items()}
        given = [k for k, v in clips.items() if v is not None]
        if len(given) > 1:
            raise ValueError(f"Only one of clipnorm, clipvalue and global_clipnorm can be set; got {', '.join(given)}")
        self.weight_decay = None if weight_decay is None else check_non_negative("weight_decay", weight_decay)
        self.clipnorm, self.clipvalue, self.global_clipnorm = (
            clips["clipnorm"],
            clips["clipvalue"],
            clips["global_clipnorm"],
        )
        super().__init__(params, learning_rate)

    @classmethod
    def _public_name(cls) -> str:
        return "keras." + cls.__name__.removeprefix("Keras")

    def _configure(self, kernel) -> None:
        kernel.decoupled_weight_decay = self.weight_decay or 0.0
        kernel.clip_norm = self.clipnorm or 0.0
        kernel.clip_value = self.clipvalue or 0.0
        kernel.global_clip_norm = self.global_clipnorm or 0.0

    def _hyperparameters(self) -> dict:
        config = {}
        for key in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, key) is not None:
                config[key] = getattr(self, key)
        return config
