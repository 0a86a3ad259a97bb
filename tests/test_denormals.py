"""fastmlp.set_flush_denormals: subnormal results become zero, and subnormal
inputs read as zero (x86 FTZ and DAZ), in fastmlp's own computations only.
Off by default: then every result keeps IEEE's subnormals, as NumPy's do."""

import threading

import numpy as np
import pytest

import fastmlp
from fastmlp import _core
from fastmlp.layers import Dense

TINY = np.finfo(np.float32).tiny  # smallest normal float32, ~1.18e-38

pytestmark = pytest.mark.skipif(not fastmlp.set_flush_denormals(False), reason="this CPU cannot flush")


@pytest.fixture
def flushing():
    assert fastmlp.set_flush_denormals(True)
    try:
        yield
    finally:
        fastmlp.set_flush_denormals(False)


def numpy_keeps_subnormals():
    return (np.array([TINY], np.float32) * np.float32(0.5))[0] != 0


def subnormal(a):
    return (a != 0) & (np.abs(a) < TINY)


def test_off_by_default_and_the_setting_round_trips():
    assert fastmlp.get_flush_denormals() is False
    assert fastmlp.set_flush_denormals(True) is True
    try:
        assert fastmlp.get_flush_denormals() is True
    finally:
        fastmlp.set_flush_denormals(False)
    assert fastmlp.get_flush_denormals() is False


@pytest.mark.parametrize("bad", [None, 1, "yes"])
def test_the_setting_takes_a_bool_only(bad):
    with pytest.raises(TypeError):
        fastmlp.set_flush_denormals(bad)
    assert fastmlp.get_flush_denormals() is False


@pytest.mark.parametrize("threads", [1, 2])
def test_subnormal_results_and_inputs_become_zero_on_every_thread(threads, flushing):
    fastmlp.set_num_threads(threads)
    n = 100_000  # above the threshold for threads: both halves of the loop
    # Start the worker threads in IEEE mode (a thread inherits its creator's mode).
    fastmlp.set_flush_denormals(False)
    _core.sgd_step(np.ones(n, np.float32), np.ones(n, np.float32), 0.0)
    fastmlp.set_flush_denormals(True)
    # p - lr * g = 1.5 TINY - TINY: a subnormal result.
    p, g = np.full(n, 1.5 * TINY, np.float32), np.full(n, TINY, np.float32)
    _core.sgd_step(p, g, 1.0)
    assert np.count_nonzero(p) == 0
    # A subnormal input reads as zero: p - lr * 0 = 0.
    p = np.full(n, TINY / 4, np.float32)
    _core.sgd_step(p, np.zeros(n, np.float32), 0.1)
    assert np.count_nonzero(p) == 0


@pytest.mark.parametrize("threads", [1, 2])
def test_without_it_subnormals_are_kept(threads):
    fastmlp.set_num_threads(threads)
    n = 100_000
    p, g = np.full(n, 1.5 * TINY, np.float32), np.full(n, TINY, np.float32)
    _core.sgd_step(p, g, 1.0)
    np.testing.assert_array_equal(p, np.full(n, TINY / 2, np.float32))
    p = np.full(n, TINY / 4, np.float32)
    _core.sgd_step(p, np.zeros(n, np.float32), 0.1)
    np.testing.assert_array_equal(p, np.full(n, TINY / 4, np.float32))


def test_the_callers_own_arithmetic_is_left_alone(flushing):
    p, g = np.full(10, 1.5 * TINY, np.float32), np.full(10, TINY, np.float32)
    _core.sgd_step(p, g, 1.0)
    assert np.count_nonzero(p) == 0
    assert numpy_keeps_subnormals()


def test_progress_callbacks_run_in_ieee_mode(flushing):
    net = _core.Network(4, [3], ["softmax"])
    net.initialize(0)
    net.set_loss("sparse_categorical_crossentropy")
    net.set_optimizer(_core.KerasSGD())
    seen = []
    x = np.random.default_rng(0).random((20, 4), dtype=np.float32)
    y = np.zeros(20, np.int32)
    net.train_epoch(x, y, 4, False, 0, None, lambda *args: seen.append(numpy_keeps_subnormals()), 0.0)
    assert seen and all(seen)


def adam_moments_after(steps_without_gradient):
    """A model whose first input feature is nonzero for a few steps, then
    zero: Adam's first moments for that feature's weights then decay by 0.9
    a step and pass through the subnormal range (~150 steps wide)."""
    model = fastmlp.Sequential([Dense(4, activation="relu"), Dense(2, activation="softmax")], input_dim=3, seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((1, 3), dtype=np.float32) + 0.5
    y = np.zeros(1, np.int32)
    for _ in range(5):
        model.train_on_batch(x, y)
    x[0, 0] = 0
    saw_subnormal = False
    for _ in range(steps_without_gradient):
        model.train_on_batch(x, y)
        momentum = np.asarray(model.optimizer._kernel.state(0))
        saw_subnormal |= bool(subnormal(momentum).any())
    return saw_subnormal, model


def test_training_flushes_the_moments(flushing):
    saw_subnormal, model = adam_moments_after(1500)
    assert not saw_subnormal
    # Those weights' moments ended at zero, and training still works.
    assert np.count_nonzero(model._network.layer_grads(0)[0][0]) == 0
    assert np.all(np.isfinite(model.weights))


def test_training_keeps_subnormal_moments_by_default():
    saw_subnormal, _ = adam_moments_after(1500)
    assert saw_subnormal


def test_a_call_on_another_python_thread_restores_its_own_workers():
    """Each Python thread that calls in has its own OpenMP workers. A flushing
    call on one thread, made while another thread's flushing epoch is paused
    in a callback, must still put its own workers back to IEEE mode."""
    fastmlp.set_num_threads(2)
    n = 100_000
    net = _core.Network(4, [3], ["softmax"])
    net.initialize(0)
    net.set_loss("sparse_categorical_crossentropy")
    net.set_optimizer(_core.KerasSGD())
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    y = np.zeros(8, np.int32)
    in_callback, release = threading.Event(), threading.Event()

    def callback(*args):
        in_callback.set()
        release.wait(30)

    assert fastmlp.set_flush_denormals(True)
    try:
        epoch = threading.Thread(target=net.train_epoch, args=(x, y, 4, False, 0, None, callback, 0.0))
        epoch.start()
        assert in_callback.wait(30)
        p, g = np.full(n, 1.5 * TINY, np.float32), np.full(n, TINY, np.float32)
        _core.sgd_step(p, g, 1.0)  # flushing, on this thread's two threads
        assert np.count_nonzero(p) == 0
        fastmlp.set_flush_denormals(False)
        p = np.full(n, 1.5 * TINY, np.float32)
        _core.sgd_step(p, g, 1.0)  # IEEE again, on both halves
        np.testing.assert_array_equal(p, np.full(n, TINY / 2, np.float32))
    finally:
        release.set()
        epoch.join(30)
        fastmlp.set_flush_denormals(False)


def test_gradients_formed_on_demand_follow_the_mode(flushing):
    """Batch-1 SGD stores no gradient (tests/test_direct_steps.py); formed when
    read, they must have the bits the flushing step would have stored: here
    TINY times an output gradient of ~0.3 is subnormal, so zero."""
    x, y = np.array([[TINY, 1.0]], np.float32), np.zeros(1, np.int32)
    direct, stored = (fastmlp.Sequential([Dense(3, activation="softmax")], input_dim=2, seed=0) for _ in range(2))
    for m in (direct, stored):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    stored.train_on_batch(x, y)
    _ = stored._network.grads  # from now on its steps store their gradients
    direct.train_on_batch(x, y)
    stored.set_weights(direct.get_weights())
    direct.train_on_batch(x, y)
    stored.train_on_batch(x, y)
    assert direct._network.last_step == "single_row" and stored._network.last_step != "single_row"
    assert np.count_nonzero(stored._network.layer_grads(0)[0][0]) == 0  # the subnormal products, flushed
    np.testing.assert_array_equal(direct._network.grads, stored._network.grads)
