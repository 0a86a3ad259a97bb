"""Parsing of ``fastmlp compare``'s ``--optimizers`` and ``--schedule`` strings.

Syntax (also in ``fastmlp compare --help``)::

    SPEC   := NAME [":" KEY "=" VALUE ("," KEY "=" VALUE)*]
    LIST   := SPEC ("," SPEC)*

In a list, a comma-separated item that contains ``=`` continues the previous
optimizer's hyperparameters; an item without ``=`` starts the next optimizer:
``sgd,adam:learning_rate=3e-4,beta_1=0.8,torch.SGD:lr=0.01,momentum=0.9``
is three optimizers.

Optimizer names:

* a plain name (``sgd``, ``adam``, ``rmsprop``, ...) is the Keras-namespace
  class with Keras's defaults, exactly what ``compile(optimizer="adam")`` uses;
* ``keras.CLASS`` is a class of ``fastmlp.optim.keras`` (``keras.Adam``);
* ``torch.CLASS`` is a class of ``fastmlp.optim`` (PyTorch's names, defaults
  and rules: ``torch.SGD:lr=0.01,momentum=0.9``).

Class names are case-insensitive. Values: integers and floats (``3e-4``),
``true``/``false``, ``none``, and tuples written with ``/`` between the
elements (``betas=0.9/0.99``; a one-element tuple ends with ``/``: ``0.5/``).
Anything else is passed as a string (and rejected by the optimizer if it is
not one of its options).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Any, Callable

from .. import optim
from ..optim import schedules


class SpecError(ValueError):
    """A malformed ``--optimizers`` or ``--schedule`` string."""


# ------------------------------------------------------------------ values
def parse_value(text: str) -> Any:
    """A hyperparameter value: bool, None, int, float, tuple (``a/b``) or str."""
    text = text.strip()
    if "/" in text:
        parts = text.split("/")
        if parts[-1] == "":  # "0.5/" is a one-element tuple
            parts = parts[:-1]
        if not parts or any(not p.strip() for p in parts):
            raise SpecError(f"malformed tuple {text!r}: write elements separated by '/', e.g. 0.9/0.999")
        return tuple(parse_value(p) for p in parts)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        raise SpecError(f"value {text!r} is not a finite number")
    return number


def _split_spec(text: str, what: str) -> tuple[str, dict[str, Any]]:
    """'name:k=v,k=v' -> ('name', {k: v})."""
    text = text.strip()
    if not text:
        raise SpecError(f"empty {what}")
    name, sep, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise SpecError(f"{what} {text!r} has no name before ':'")
    if "=" in name:
        raise SpecError(f"{what} {text!r}: write NAME:KEY=VALUE (a ':' after the name)")
    kwargs: dict[str, Any] = {}
    if sep:
        if not rest.strip():
            raise SpecError(f"{what} {text!r} has nothing after ':'")
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            key = key.strip()
            if not eq or not key or not value.strip():
                raise SpecError(f"{what} {text!r}: expected KEY=VALUE, got {item.strip()!r}")
            if not key.isidentifier():
                raise SpecError(f"{what} {text!r}: {key!r} is not a valid hyperparameter name")
            if key in kwargs:
                raise SpecError(f"{what} {text!r}: {key!r} is given twice")
            kwargs[key] = parse_value(value)
    return name, kwargs


def _accepted_arguments(cls) -> list[str]:
    """Keyword arguments of cls(...), following **kwargs up the MRO."""
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        more = False
        for p in inspect.signature(init).parameters.values():
            if p.kind is p.VAR_KEYWORD:
                more = True
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ("self", "params"):
                if p.name not in names:
                    names.append(p.name)
        if not more:
            break
    return names


# -------------------------------------------------------------- optimizers
def _torch_classes() -> dict[str, type]:
    return {
        name.lower(): getattr(optim, name)
        for name in optim.__all__
        if isinstance(getattr(optim, name), type)
        and issubclass(getattr(optim, name), optim.Optimizer)
        and getattr(optim, name) is not optim.Optimizer
    }


def _keras_classes() -> dict[str, type]:
    return {name.lower(): getattr(optim.keras, name) for name in optim.keras.__all__}


def available_optimizers() -> dict[str, list[str]]:
    """{"plain": [...], "keras": [...], "torch": [...]} for messages and --help."""
    return {
        "plain": sorted(optim._BY_NAME),
        "keras": ["keras." + name for name in optim.keras.__all__],
        "torch": ["torch." + cls.__name__ for cls in _torch_classes().values()],
    }


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """One ``--optimizers`` entry: the text as given, the class and its arguments."""

    text: str
    cls: type
    kwargs: dict

    @property
    def lr_argument(self) -> str:
        return self.cls._lr_argument

    def build(self) -> optim.Optimizer:
        """A fresh optimizer (one per run: optimizers hold state)."""
        return self.cls(**self.kwargs)


def parse_optimizer(text: str) -> OptimizerSpec:
    """``adam``, ``keras.Adam:learning_rate=3e-4``, ``torch.Adam:betas=0.9/0.99`` -> OptimizerSpec."""
    name, kwargs = _split_spec(text, "optimizer spec")
    lowered = name.lower()
    if lowered.startswith("keras."):
        classes, key, namespace = _keras_classes(), lowered[len("keras.") :], "keras"
    elif lowered.startswith("torch."):
        classes, key, namespace = _torch_classes(), lowered[len("torch.") :], "torch"
    else:
        classes, key, namespace = {k: v for k, v in optim._BY_NAME.items()}, lowered, None
    cls = classes.get(key)
    if cls is None:
        names = available_optimizers()
        hint = ""
        if namespace is None and key in _torch_classes():
            hint = f" ({name} exists only in the PyTorch namespace: torch.{_torch_classes()[key].__name__})"
        elif namespace == "keras" and key in _torch_classes():
            hint = f" (try torch.{_torch_classes()[key].__name__})"
        listing = {"keras": names["keras"], "torch": names["torch"]}.get(namespace, names["plain"])
        raise SpecError(
            f"unknown optimizer {name!r}{hint}; "
            f"{'plain names (Keras classes)' if namespace is None else namespace + ' classes'}: "
            f"{', '.join(listing)}"
        )
    accepted = _accepted_arguments(cls)
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        hint = ""
        if "learning_rate" in unknown and "lr" in accepted:
            hint = " (PyTorch-namespace classes call the learning rate lr)"
        elif "lr" in unknown and "learning_rate" in accepted:
            hint = " (Keras-namespace classes call the learning rate learning_rate)"
        raise SpecError(
            f"optimizer {text.strip()!r}: unknown hyperparameter {unknown[0]!r} for "
            f"{cls._public_name()}{hint}; accepted: {', '.join(accepted)}"
        )
    spec = OptimizerSpec(text.strip(), cls, kwargs)
    try:
        spec.build()  # validate the values now, not after other runs have finished
    except (TypeError, ValueError) as exc:
        raise SpecError(f"optimizer {text.strip()!r}: {exc}") from None
    return spec


def split_optimizer_list(text: str) -> list[str]:
    """'sgd,adam:learning_rate=1e-3,beta_1=0.8,rmsprop' -> ['sgd', 'adam:learning_rate=1e-3,beta_1=0.8', 'rmsprop']:
    an item with '=' continues the previous optimizer's hyperparameters."""
    specs: list[str] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise SpecError(f"empty item in optimizer list {text!r} (two commas in a row, or a trailing comma)")
        if "=" in item and ":" not in item.split("=", 1)[0]:
            if not specs:
                raise SpecError(f"optimizer list {text!r} starts with a hyperparameter {item!r}; write NAME:KEY=VALUE")
            if ":" not in specs[-1]:
                raise SpecError(
                    f"optimizer list {text!r}: hyperparameter {item!r} follows {specs[-1]!r} "
                    f"without ':' (write {specs[-1]}:{item})"
                )
            specs[-1] += "," + item
        else:
            specs.append(item)
    return specs


def parse_optimizer_list(text: str) -> list[OptimizerSpec]:
    specs = [parse_optimizer(item) for item in split_optimizer_list(text)]
    seen = set()
    for spec in specs:
        if spec.text in seen:
            raise SpecError(f"optimizer {spec.text!r} is listed twice")
        seen.add(spec.text)
    return specs


# --------------------------------------------------------------- schedules
# name -> (class, the argument that receives the optimizer's base rate)
SCHEDULES: dict[str, tuple[type, str]] = {
    "constant": (schedules.Constant, "learning_rate"),
    "step": (schedules.StepDecay, "initial_learning_rate"),
    "multistep": (schedules.MultiStepDecay, "initial_learning_rate"),
    "exponential": (schedules.ExponentialDecay, "initial_learning_rate"),
    "cosine": (schedules.CosineDecay, "initial_learning_rate"),
    "cosine_restarts": (schedules.CosineDecayRestarts, "initial_learning_rate"),
    "polynomial": (schedules.PolynomialDecay, "initial_learning_rate"),
    "onecycle": (schedules.OneCycle, "max_learning_rate"),
}
_WARMUP_KEYS = ("warmup", "warmup_from")


@dataclasses.dataclass(frozen=True)
class ScheduleSpec:
    """A ``--schedule``: turns each optimizer's base learning rate into a schedule."""

    text: str
    make: Callable[[float], schedules.LearningRateSchedule]

    def __call__(self, base_learning_rate: float) -> schedules.LearningRateSchedule:
        return self.make(base_learning_rate)


def parse_schedule(text: str) -> ScheduleSpec:
    """``exponential:decay_steps=1000,decay_rate=0.9``, ``cosine:decay_steps=8000,warmup=500``,
    ``warmup:steps=500`` ... -> ScheduleSpec. Steps count optimizer updates."""
    name, kwargs = _split_spec(text, "schedule")
    key = name.lower().replace("-", "_")
    if key == "warmup":
        unknown = [k for k in kwargs if k not in ("steps", "from")]
        if unknown or "steps" not in kwargs:
            raise SpecError(
                f"schedule {text!r}: warmup takes steps=N (required) and from=RATE "
                f"(default 0); got {', '.join(kwargs) or 'nothing'}"
            )
        steps, start = kwargs["steps"], kwargs.get("from", 0.0)

        def make(base: float) -> schedules.LearningRateSchedule:
            return schedules.LinearWarmup(schedules.Constant(base), steps, start)
    else:
        if key not in SCHEDULES:
            raise SpecError(f"unknown schedule {name!r}; available: {', '.join([*SCHEDULES, 'warmup'])}")
        cls, base_argument = SCHEDULES[key]
        fields = [f.name for f in dataclasses.fields(cls) if f.name != base_argument]
        if base_argument in kwargs:
            raise SpecError(
                f"schedule {text!r}: {base_argument} comes from each optimizer's learning rate; "
                "set that in --optimizers (e.g. adam:learning_rate=3e-4)"
            )
        unknown = [k for k in kwargs if k not in fields and k not in _WARMUP_KEYS]
        if unknown:
            raise SpecError(
                f"schedule {text!r}: unknown argument {unknown[0]!r} for {name}; accepted: "
                f"{', '.join([*fields, *_WARMUP_KEYS])}"
            )
        arguments = {k: v for k, v in kwargs.items() if k not in _WARMUP_KEYS}
        if "milestones" in arguments and not isinstance(arguments["milestones"], tuple):
            arguments["milestones"] = (arguments["milestones"],)
        warmup, warmup_from = kwargs.get("warmup"), kwargs.get("warmup_from", 0.0)

        def make(base: float) -> schedules.LearningRateSchedule:
            schedule = cls(**{base_argument: base}, **arguments)
            if warmup:
                schedule = schedules.LinearWarmup(schedule, warmup, warmup_from)
            return schedule

    spec = ScheduleSpec(text.strip(), make)
    try:
        spec(1e-3)  # validate the arguments now
    except (TypeError, ValueError) as exc:
        raise SpecError(f"schedule {text!r}: {exc}") from None
    return spec


def base_learning_rate(optimizer: optim.Optimizer) -> float:
    """The optimizer's learning rate as a float (its schedule's value at step 0)."""
    rate = optimizer.schedule
    return float(rate(0)) if callable(rate) else float(rate)
