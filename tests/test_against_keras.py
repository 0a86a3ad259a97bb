"""fastmlp.optim.keras against Keras 3 itself (on its PyTorch backend), when
both are installed (.ci/run installs them where PyTorch's CPU wheel is on the
machine; elsewhere these tests are skipped).

Both run in float32 from the same start with the same gradients. Keras also
evaluates its per-step scalars in float32 (1 - beta_2**t at t = 1 keeps only
about three digits), where fastmlp uses float64, so we allow 1e-5 of the
distance each value travelled plus 1e-6 of the value, over 50 steps: measured
differences reach 4e-6 of the distance. A wrong convention (epsilon inside or
outside the root, the bias correction) misses by orders of magnitude. The NumPy
float64 references in test_optim_keras.py pin the rules themselves."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("Keras is set to another backend", allow_module_level=True)

import fastmlp  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

CASES = [
    ("SGD", {"learning_rate": 0.05}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9, "centered": True}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "clipnorm": 0.5}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("Adagrad", {"learning_rate": 0.05}),
    ("Adamax", {"learning_rate": 0.01, "global_clipnorm": 1.0}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Lion", {"learning_rate": 0.01, "clipvalue": 0.1}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_keras_optimizers(name, kwargs):
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(37, 11)).astype(np.float32), rng.normal(size=11).astype(np.float32)]
    ours = [a.copy() for a in start]
    theirs = [keras.Variable(a.copy()) for a in start]
    fast = getattr(fastmlp.optim.keras, name)(ours, **kwargs)
    reference = getattr(keras.optimizers, name)(**kwargs)
    travelled = [np.zeros_like(a) for a in start]
    for _ in range(50):
        grads = [
            (np.sign(rng.normal(size=a.shape)) * 10 ** rng.uniform(-7, 0, a.shape)).astype(np.float32) for a in start
        ]
        before = [np.array(v.numpy()) for v in theirs]
        reference.apply([keras.ops.convert_to_tensor(g) for g in grads], theirs)
        fast.step(grads)
        for k, v in enumerate(theirs):
            travelled[k] += np.abs(np.array(v.numpy()) - before[k])
    for mine, v, path in zip(ours, theirs, travelled):
        expected = np.array(v.numpy())
        np.testing.assert_array_less(np.abs(mine - expected), 1e-5 * path + 1e-6 * np.abs(expected) + 1e-12)
