"""Plain SGD: the kernel on the flat buffer, and standalone use on NumPy arrays."""

import numpy as np
import pytest

import fastmlp
from fastmlp import _core
from fastmlp.optim import SGD
from fastmlp.optim import keras as keras_optim


def sgd_reference(params, grads, lr):
    """p - lr*g in float32, rounded twice as written: the kernel is compiled
    without multiply-add contraction, so it must give exactly these bits."""
    return params - np.float32(lr) * grads


@pytest.mark.parametrize("size", [1, 7, 1023, 40_000, 100_003])  # the last two above the OpenMP threshold
def test_sgd_step_kernel_matches_the_formula(size):
    rng = np.random.default_rng(size)
    params = rng.normal(size=size).astype(np.float32)
    grads = (rng.normal(size=size) * 10.0 ** rng.uniform(-7, 0, size)).astype(np.float32)
    expected = sgd_reference(params, grads, 0.01)
    _core.sgd_step(params, grads, 0.01)
    np.testing.assert_array_equal(params, expected)


def test_one_and_two_threads_agree_bit_for_bit():
    rng = np.random.default_rng(0)
    start = rng.normal(size=100_003).astype(np.float32)
    grads = rng.normal(size=100_003).astype(np.float32)
    results = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        params = start.copy()
        for _ in range(10):
            _core.sgd_step(params, grads, 0.003)
        results.append(params)
    np.testing.assert_array_equal(results[0], results[1])


def test_standalone_sgd_updates_arrays_in_place():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(13, 7)).astype(np.float32)
    b = rng.normal(size=7).astype(np.float32)
    gw = rng.normal(size=(13, 7)).astype(np.float32)
    gb = rng.normal(size=7).astype(np.float32)
    w_view = w[:]  # the caller's arrays themselves must change
    expected_w, expected_b = sgd_reference(w, gw, 0.5), sgd_reference(b, gb, 0.5)
    opt = SGD([w, b], lr=0.5)
    opt.step([gw, gb])
    np.testing.assert_array_equal(w_view, expected_w)
    np.testing.assert_array_equal(b, expected_b)
    assert opt.iterations == 1
    opt.step([gw, gb.astype(np.float64)])  # gradients may be any float dtype
    assert opt.iterations == 2


def test_defaults_follow_each_framework():
    assert SGD().lr == 1e-3  # torch.optim.SGD
    assert keras_optim.SGD().learning_rate == 0.01  # keras.optimizers.SGD
    model = fastmlp.Sequential([fastmlp.layers.Dense(2, activation="softmax")], input_dim=3)
    model.compile(optimizer="sgd")
    assert isinstance(model.optimizer, keras_optim.SGD) and model.optimizer.learning_rate == 0.01


def test_learning_rate_changes_reach_a_compiled_model():
    x = np.ones((4, 3), np.float32)
    y = np.array([0, 1, 0, 1])
    model = fastmlp.Sequential([fastmlp.layers.Dense(2, activation="softmax")], input_dim=3, seed=0)
    opt = keras_optim.SGD(learning_rate=0.1)
    model.compile(optimizer=opt)
    opt.learning_rate = 0.25
    before = model.weights.copy()
    model.train_on_batch(x, y)
    grads = model._network.grads.copy()
    np.testing.assert_array_equal(model.weights, sgd_reference(before, grads, 0.25))


def test_parameters_that_would_be_updated_as_a_copy_are_refused():
    good = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="float32"):
        SGD([np.zeros(4)], lr=0.1)
    with pytest.raises(ValueError, match="contiguous"):
        SGD([np.zeros((4, 4), np.float32)[:, 0]], lr=0.1)
    read_only = np.zeros(4, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        SGD([read_only], lr=0.1)
    with pytest.raises(TypeError, match="NumPy"):
        SGD([[0.0, 1.0]], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    opt = SGD([good], lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        opt.step([np.zeros(5, np.float32)])
    with pytest.raises(ValueError, match="1 parameters"):
        opt.step([good, good])
    with pytest.raises(RuntimeError, match="no arrays"):
        SGD(lr=0.1).step([good])


def test_the_kernel_rejects_mismatched_buffers():
    with pytest.raises(ValueError, match="4 values.*5"):
        _core.sgd_step(np.zeros(4, np.float32), np.zeros(5, np.float32), 0.1)
    with pytest.raises(TypeError, match="float32"):
        _core.sgd_step(np.zeros(4), np.zeros(4, np.float32), 0.1)
