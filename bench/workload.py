"""The experiment every framework runs: the references' MLP on MNIST.

MLP 784-300-100-10 (relu, relu, softmax; sparse categorical cross-entropy),
trained on the 55,000 images x_train[5000:] scaled to [0, 1] as float32
(the first 5,000 are the references' validation set), with the references'
optimizers and learning rates. Also: the floating-point work of one epoch,
and the data files the benchmark's worker processes read.
"""

from __future__ import annotations

import os

import numpy as np

INPUT = 784
CLASSES = 10
HIDDEN = (300, 100)
REFERENCE_IMAGES = 55_000  # an epoch of the references' experiment
TEST_IMAGES = 10_000

# The references' optimizers: Keras's classes, their learning rates, Keras's defaults otherwise.
LEARNING_RATES = {"sgd": 0.01, "adam": 1e-3, "rmsprop": 1e-3}
OPTIMIZERS = tuple(LEARNING_RATES)


def widths(hidden=HIDDEN) -> list[int]:
    return [INPUT, *hidden, CLASSES]


def architecture(hidden=HIDDEN) -> str:
    return "-".join(map(str, widths(hidden)))


def flop_per_sample(hidden=HIDDEN) -> int:
    """Floating-point operations of one training sample, counting 2 per
    multiply-add of the matrix products only: forward x W, the weight gradient
    x^T dy and the input gradient dy W^T, except for the first layer, whose
    input gradient nobody needs (4 * 784 * 300 + 6 * 300 * 100 + 6 * 100 * 10
    for the reference network)."""
    dims = widths(hidden)
    return sum((4 if i == 0 else 6) * a * b for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])))


def gflop_per_epoch(hidden=HIDDEN, images: int = REFERENCE_IMAGES) -> float:
    return images * flop_per_sample(hidden) / 1e9


def parameter_count(hidden=HIDDEN) -> int:
    dims = widths(hidden)
    return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))


# ------------------------------------------------------------------ data
FILES = ("x_train", "y_train", "x_test", "y_test")


def prepare(data_path, folder: str, train_images: int = REFERENCE_IMAGES) -> dict:
    """Load MNIST with fastmlp's loader, keep the first `train_images` of
    x_train[5000:], scale to float32 in [0, 1], and save the four arrays as
    .npy files in `folder` for the worker processes (which then need neither
    fastmlp nor the MNIST parser). Returns what was written."""
    from fastmlp.datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load_data(data_path)
    scale = np.float32(1 / 255)
    train = slice(5000, 5000 + train_images)
    arrays = {
        "x_train": x_train[train].reshape(-1, INPUT).astype(np.float32) * scale,
        "y_train": y_train[train].astype(np.int32),
        "x_test": x_test.reshape(-1, INPUT).astype(np.float32) * scale,
        "y_test": y_test.astype(np.int32),
    }
    os.makedirs(folder, exist_ok=True)
    for name, array in arrays.items():
        np.save(os.path.join(folder, name + ".npy"), np.ascontiguousarray(array))
    return {"folder": folder, "train_images": len(arrays["x_train"]), "test_images": len(arrays["x_test"])}


class Arrays(dict):
    """The prepared arrays of `folder`, each read on first use (a worker that
    times optimizer steps never reads the images)."""

    def __init__(self, folder: str | None):
        super().__init__()
        self.folder = folder

    def __missing__(self, name: str) -> np.ndarray:
        if name not in FILES or not self.folder:
            raise KeyError(f"no benchmark array {name!r} (data folder: {self.folder})")
        self[name] = np.load(os.path.join(self.folder, name + ".npy"))
        return self[name]


def load(folder: str | None) -> Arrays:
    return Arrays(folder)
