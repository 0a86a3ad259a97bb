"""The reference notebooks' data preparation: pixels scaled to [0, 1] once,
and a validation set held out of the training images."""

from __future__ import annotations

import math
import os

import numpy as np

from . import fashion_mnist, mnist

LOADERS = {"mnist": mnist.load_data, "fashion-mnist": fashion_mnist.load_data}


def load_scaled(
    dataset: str = "mnist",
    path: str | os.PathLike[str] | None = None,
    validation: int | float = 5000,
    limit: int | None = None,
):
    """``(x_train, y_train), (x_val, y_val) or None, (x_test, y_test)``, images
    as float32 in [0, 1].

    ``validation`` as an int N holds out the FIRST N training images (as the
    reference notebooks do); as a fraction f in (0, 1) it holds out the LAST
    ceil-rounded fraction, as Keras's ``validation_split`` does. ``limit``
    keeps only the first ``limit`` training images (before the split)."""
    if dataset not in LOADERS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(LOADERS)}")
    (x_train, y_train), (x_test, y_test) = LOADERS[dataset](path)
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    scale = np.float32(1 / 255)
    x_train = x_train.astype(np.float32) * scale
    x_test = x_test.astype(np.float32) * scale
    n = len(x_train)
    if isinstance(validation, float):
        if not 0.0 < validation < 1.0:
            raise ValueError(f"validation fraction {validation} must be in (0, 1)")
        split_at = int(math.ceil(n * (1.0 - validation)))
        if split_at in (0, n):
            raise ValueError(f"validation fraction {validation} leaves no images on one side of {n}")
        return (x_train[:split_at], y_train[:split_at]), (x_train[split_at:], y_train[split_at:]), (x_test, y_test)
    count = int(validation)
    if count < 0:
        raise ValueError(f"validation count {count} must be >= 0")
    if count >= n:
        raise ValueError(f"holding out {count} validation images leaves no training images out of {n}")
    val = (x_train[:count], y_train[:count]) if count else None
    return (x_train[count:], y_train[count:]), val, (x_test, y_test)
