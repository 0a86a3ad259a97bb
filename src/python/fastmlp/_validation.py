"""Input checks at the Python boundary: every problem becomes a TypeError or
ValueError that names the argument and shapes, before any C++ runs. Arrays are
converted to the core's dtypes once per call, never per batch."""

from __future__ import annotations

import numpy as np


def _as_numeric_array(value, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be turned into an array: {exc}") from None
    if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integers or floats, got dtype {array.dtype}")
    return array


def all_finite(array: np.ndarray, block: int = 1 << 18) -> bool:
    """True when no value of a contiguous array is NaN or infinite.

    Block by block: np.isfinite of the whole array would hold one bool per
    value at once, 43 MB for MNIST's training images, on every fit call (and
    in `fastmlp train`'s peak memory).
    """
    flat = array.reshape(-1)
    return all(np.isfinite(flat[i : i + block]).all() for i in range(0, flat.size, block))


def features(x, input_shape: tuple[int, ...], name: str = "x") -> np.ndarray:
    """x as a C-contiguous float32 (n, prod(input_shape)) array.

    Accepts (n, *input_shape) or already-flat (n, prod(input_shape));
    float32, float64 and integer dtypes (uint8 images are cast, not scaled).
    """
    array = _as_numeric_array(x, name)
    width = int(np.prod(input_shape))
    if array.ndim < 2:
        raise ValueError(f"{name} has shape {array.shape}; expected (n, {', '.join(map(str, input_shape))})")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    trailing = tuple(array.shape[1:])
    if trailing != tuple(input_shape) and trailing != (width,):
        expected = ", ".join(map(str, input_shape))
        raise ValueError(f"{name} has shape {array.shape} but the model expects (n, {expected})")
    with np.errstate(over="ignore"):  # reported below as a clear error
        flat = np.ascontiguousarray(array.reshape(array.shape[0], width), dtype=np.float32)
    if array.dtype.kind == "f" and not all_finite(flat):
        row, col = np.argwhere(~np.isfinite(flat))[0]
        cause = " (a value beyond float32's range)" if np.isfinite(array).all() else ""
        raise ValueError(f"{name} contains NaN or Inf{cause}: first at sample {row}, feature {col}")
    return flat


def class_labels(y, rows: int, classes: int, name: str = "y") -> np.ndarray:
    """y as C-contiguous int32 labels in [0, classes): shape (rows,) or (rows, 1)."""
    array = _as_numeric_array(y, name)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"{name} has shape {array.shape}; sparse_categorical_crossentropy takes "
            f"integer class labels of shape ({rows},) (for one-hot targets use "
            "loss='categorical_crossentropy')"
        )
    if array.shape[0] != rows:
        raise ValueError(f"x has {rows} samples but {name} has {array.shape[0]} labels")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or not np.all(array == np.round(array)):
            raise TypeError(f"{name} must hold integer class labels; got non-integral floats")
    if rows and (array.min() < 0 or array.max() >= classes):
        index = int(np.flatnonzero((array < 0) | (array >= classes))[0])
        raise ValueError(
            f"{name} contains label {array[index].item()} outside [0, {classes}) at index "
            f"{index}, for a model with {classes} outputs"
        )
    return np.ascontiguousarray(array, dtype=np.int32)


def dense_targets(y, rows: int, outputs: int, loss: str, name: str = "y") -> np.ndarray:
    """y as C-contiguous float32 (rows, outputs) targets.

    For mse, integer labels of shape (rows,) are one-hot encoded when the model
    has several outputs, and (rows,) becomes (rows, 1) for a single output.
    """
    array = _as_numeric_array(y, name)
    if array.ndim >= 1 and array.shape[0] != rows:
        raise ValueError(f"x has {rows} samples but {name} has {array.shape[0]}")
    if array.ndim == 1:
        if outputs == 1:
            array = array.reshape(rows, 1)
        elif loss == "mse" and array.dtype.kind in "iu":
            if rows and (array.min() < 0 or array.max() >= outputs):
                raise ValueError(f"{name} contains labels outside [0, {outputs})")
            array = np.eye(outputs, dtype=np.float32)[array]
        else:
            raise ValueError(
                f"{name} has shape {array.shape} but loss {loss!r} takes targets of shape "
                f"({rows}, {outputs}); for integer labels use "
                "loss='sparse_categorical_crossentropy'"
            )
    if array.shape != (rows, outputs):
        raise ValueError(f"{name} has shape {array.shape}; expected ({rows}, {outputs})")
    targets = np.ascontiguousarray(array, dtype=np.float32)
    if not all_finite(targets):
        raise ValueError(f"{name} contains NaN or Inf")
    return targets


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)
