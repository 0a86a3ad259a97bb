"""The Python side of an optimizer: validated hyperparameters, and the C++
kernel that applies them to a flat float32 buffer in one fused pass."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from .. import _core


def check_positive(name: str, value) -> float:
    """A finite number > 0, else a ValueError naming the argument."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None
    if not math.isfinite(number) or number <= 0.0:
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number > 0)")
    return number


def check_parameter_array(array, index: int) -> np.ndarray:
    """Parameters are updated in place, so they must already be writable
    C-contiguous float32 arrays: anything else would update a copy."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"parameter {index} must be a NumPy array, got {type(array).__name__} "
                        "(for a PyTorch CPU tensor pass tensor.numpy())")
    if array.dtype != np.float32:
        raise TypeError(f"parameter {index} has dtype {array.dtype}; optimizers update float32 arrays in place")
    if not array.flags.c_contiguous:
        raise ValueError(f"parameter {index} is not C-contiguous; an in-place update needs contiguous memory")
    if not array.flags.writeable:
        raise ValueError(f"parameter {index} is read-only")
    return array


class Optimizer:
    """Base class. Subclasses validate their hyperparameters and build the
    C++ kernel object in `_make_kernel`.

    Used two ways:
      * ``model.compile(optimizer=opt)`` binds it to the model's flat buffer;
      * ``opt = SGD([w, b], ...)`` then ``opt.step([gw, gb])`` updates NumPy
        arrays in place, each with its own state buffers.
    """

    def __init__(self, params: Iterable[np.ndarray] | None, learning_rate: float):
        self._learning_rate = check_positive(self._lr_argument, learning_rate)
        self._kernels: list = []
        self._params: list[np.ndarray] = []
        if params is not None:
            self._params = [check_parameter_array(p, i) for i, p in enumerate(params)]
            if not self._params:
                raise ValueError("optimizer got an empty parameter list")
            self._kernels = [self._new_kernel() for _ in self._params]

    # The learning rate's argument name in this namespace ("lr" or "learning_rate").
    _lr_argument = "learning_rate"

    def _make_kernel(self) -> "_core.Optimizer":
        raise NotImplementedError

    def _new_kernel(self) -> "_core.Optimizer":
        kernel = self._make_kernel()
        kernel.learning_rate = self._learning_rate
        return kernel

    def _bind_flat(self, size: int) -> "_core.Optimizer":
        """A fresh kernel sized for a model's flat parameter buffer."""
        kernel = self._new_kernel()
        kernel.bind(size)
        self._kernels = [kernel]
        self._params = []
        return kernel

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = check_positive(self._lr_argument, value)
        for kernel in self._kernels:
            kernel.learning_rate = self._learning_rate

    @property
    def iterations(self) -> int:
        """Updates applied so far."""
        return self._kernels[0].iterations if self._kernels else 0

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Update the parameters given at construction, in place."""
        if not self._params:
            raise RuntimeError("this optimizer has no parameters of its own: it was built without "
                               "params, or compiled into a model (which steps it itself)")
        grads = list(grads)
        if len(grads) != len(self._params):
            raise ValueError(f"step() got {len(grads)} gradients for {len(self._params)} parameters")
        for i, (param, grad, kernel) in enumerate(zip(self._params, grads, self._kernels)):
            if not isinstance(grad, np.ndarray):
                raise TypeError(f"gradient {i} must be a NumPy array, got {type(grad).__name__}")
            if grad.shape != param.shape:
                raise ValueError(f"gradient {i} has shape {grad.shape} but parameter {i} has shape {param.shape}")
            grad = np.ascontiguousarray(grad, dtype=np.float32)
            kernel.step(param, grad)

    def get_config(self) -> dict:
        return {"name": type(self).__name__, self._lr_argument: self._learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"
