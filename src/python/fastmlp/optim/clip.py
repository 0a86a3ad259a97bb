"""Gradient clipping on lists of NumPy arrays, in place, as torch.nn.utils does."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import _core
from .base import check_positive


def _float32_arrays(grads: Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(grads, np.ndarray):
        grads = [grads]
    arrays = list(grads)
    for i, g in enumerate(arrays):
        if not isinstance(g, np.ndarray) or g.dtype != np.float32 or not g.flags.c_contiguous or not g.flags.writeable:
            raise TypeError(f"gradient {i} must be a writable C-contiguous float32 NumPy array (clipped in place)")
    return arrays


def clip_grad_norm_(grads: Sequence[np.ndarray], max_norm: float) -> float:
    """Scale all gradients by min(1, max_norm / (norm + 1e-6)), where norm is
    the L2 norm of all of them together (``torch.nn.utils.clip_grad_norm_``).
    Returns that total norm."""
    max_norm = check_positive("max_norm", max_norm)
    arrays = _float32_arrays(grads)
    total = math.sqrt(sum(_core.sum_of_squares(g) for g in arrays))
    coefficient = max_norm / (total + 1e-6)
    if coefficient < 1.0:
        for g in arrays:
            _core.scale_and_clip(g, coefficient, math.inf)
    return total


def clip_grad_value_(grads: Sequence[np.ndarray], clip_value: float) -> None:
    """Clamp every gradient value to [-clip_value, clip_value]
    (``torch.nn.utils.clip_grad_value_``)."""
    clip_value = check_positive("clip_value", clip_value)
    for g in _float32_arrays(grads):
        _core.scale_and_clip(g, 1.0, clip_value)
