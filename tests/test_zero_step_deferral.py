"""Inside an epoch at batch 1, under RMSprop (no momentum, not centered) and
Adagrad, the first layer's rows of zero inputs have their steps held back
and applied to the state later (fast/zero_step_deferral.hpp). Steps taken
one call at a time (train_on_batch) are never held back, so the same rows
in the same order through fit must give the same bits: the weights and
every optimizer state, at the end of the epoch and whenever a progress
report lets Python look in the middle of it."""

import numpy as np
import pytest

import fastmlp
from fastmlp import optim
from fastmlp.layers import Dense


def sparse_rows(rows, seed=0):
    """MNIST-like rows: a band of the inputs is ever nonzero, so rows outside
    it are never lit and rows inside it stay zero for many steps."""
    rng = np.random.default_rng(seed)
    x = np.zeros((rows, 784), np.float32)
    for row in x:
        lit = rng.choice(np.arange(100, 700), 120, replace=False)
        row[lit] = rng.random(120).astype(np.float32)
    return x, rng.integers(0, 10, size=rows).astype(np.int32)


OPTIMIZERS = {
    "keras rmsprop": lambda: optim.keras.RMSprop(learning_rate=1e-3),
    "torch rmsprop": lambda: optim.RMSprop(lr=1e-3),
    "keras adagrad": lambda: optim.keras.Adagrad(learning_rate=1e-2),
    "torch adagrad": lambda: optim.Adagrad(lr=1e-2, lr_decay=1e-4),
    # not deferred: the rule's zero steps move the weights
    "keras rmsprop momentum": lambda: optim.keras.RMSprop(learning_rate=1e-3, momentum=0.5),
}


def model(optimizer):
    m = fastmlp.Sequential(
        [Dense(64, activation="relu"), Dense(32, activation="relu"), Dense(10, activation="softmax")],
        input_dim=784,
        seed=0,
    )
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return m


def state_arrays(m):
    state = m.optimizer.state_dict()["state"]
    return [np.asarray(v).copy() for entry in state for v in entry.values() if isinstance(v, np.ndarray)]


def assert_same_bits(a, b):
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_held_back_steps_give_the_bits_of_steps_taken_one_by_one(name, threads):
    fastmlp.set_num_threads(threads)
    x, y = sparse_rows(400)
    one_by_one, in_epochs = model(OPTIMIZERS[name]()), model(OPTIMIZERS[name]())
    for _epoch in range(2):
        for i in range(len(x)):
            one_by_one.train_on_batch(x[i : i + 1], y[i : i + 1])
        in_epochs.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
        assert in_epochs._network.last_step == "single_row"
        assert_same_bits(one_by_one.weights, in_epochs.weights)
        states = state_arrays(one_by_one), state_arrays(in_epochs)
        assert len(states[0]) == len(states[1]) > 0
        for a, b in zip(*states):
            assert_same_bits(a, b)


def test_a_progress_report_sees_the_state_up_to_date():
    """The C++ loop reports progress mid-epoch; Python may read the optimizer
    state then, so every held-back step must have been applied."""
    x, y = sparse_rows(300)
    seen = []

    def progress(loss_sum, correct, count, done, steps):
        seen.append((done, state_arrays(in_epoch)[0]))

    reference, in_epoch = model(optim.keras.RMSprop()), model(optim.keras.RMSprop())
    fastmlp.set_num_threads(2)
    net = in_epoch._network
    x32 = np.ascontiguousarray(x)
    net.train_epoch(x32, y, 1, False, 0, None, progress, 0.0)  # a report after every step
    assert len(seen) == len(x)
    for i in range(len(x)):
        reference.train_on_batch(x[i : i + 1], y[i : i + 1])
        if i % 37 == 0 or i == len(x) - 1:
            assert_same_bits(state_arrays(reference)[0], seen[i][1])


def test_subnormal_weights_are_never_held_back():
    """With subnormals flushed, a real step turns a subnormal weight into 0;
    a held-back one would keep it. Rows holding one must be updated."""
    fastmlp.set_flush_denormals(True)
    try:
        x, y = sparse_rows(200, seed=3)
        a, b = model(optim.keras.RMSprop()), model(optim.keras.RMSprop())
        for m in (a, b):
            kernel = m.layers[0].kernel
            kernel[::7, ::3] = np.float32(1e-40)  # subnormal
        for i in range(len(x)):
            a.train_on_batch(x[i : i + 1], y[i : i + 1])
        b.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
        assert_same_bits(a.weights, b.weights)
        assert not np.any((np.abs(b.layers[0].kernel) > 0) & (np.abs(b.layers[0].kernel) < 1.2e-38))
    finally:
        fastmlp.set_flush_denormals(False)
