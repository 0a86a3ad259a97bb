"""Shared fixtures. Real MNIST comes from $FASTMLP_DATA, else from
../shared/data/mnist beside the repository; without it, tests that need it
are skipped locally and fail under CI (CI=true), where it must be present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import fastmlp

_FALLBACK = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


INSTRUMENTED = fastmlp.build_info()["instrumented"]


def pytest_collection_modifyitems(config, items):
    """Tests marked `instrumented` need the allocation counter and the bench
    bindings, which a plain install leaves out: skipped there, except under CI,
    which builds them in (.ci/run) and so must run them."""
    if INSTRUMENTED or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="needs a build with FASTMLP_INSTRUMENT=ON")
    for item in items:
        if "instrumented" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    candidates = [Path(os.environ["FASTMLP_DATA"])] if os.environ.get("FASTMLP_DATA") else []
    candidates.append(_FALLBACK)
    for folder in candidates:
        if (folder / "train-images-idx3-ubyte.gz").exists():
            return folder
    message = f"real MNIST not found (looked in {', '.join(map(str, candidates))}); set FASTMLP_DATA"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """((x_train, y_train), (x_test, y_test)) with pixels scaled to [0, 1] float32."""
    (x_train, y_train), (x_test, y_test) = fastmlp.datasets.mnist.load_data(mnist_dir)
    scale = np.float32(1 / 255)
    return (x_train.astype(np.float32) * scale, y_train), (x_test.astype(np.float32) * scale, y_test)


@pytest.fixture(autouse=True)
def _restore_threads():
    """Tests that change the thread count must not leak it to the next test."""
    before = fastmlp.get_num_threads()
    yield
    fastmlp.set_num_threads(before)


def reference_mlp(seed: int = 0, hidden=(300, 100), input_shape=(28, 28), outputs: int = 10):
    """The references' MLP: Dense 300 relu, Dense 100 relu, Dense 10 softmax."""
    layers = [fastmlp.layers.Dense(w, activation="relu") for w in hidden]
    layers.append(fastmlp.layers.Dense(outputs, activation="softmax"))
    return fastmlp.Sequential(layers, input_shape=input_shape, seed=seed)


def central_difference(f, x, step=1e-6, indices=None):
    """Numerical gradient of the scalar f at x (float64), at all or some flat indices."""
    grad = np.full(x.shape, np.nan)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        old = flat[i]
        flat[i] = old + step
        up = f()
        flat[i] = old - step
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * step)
    return grad
