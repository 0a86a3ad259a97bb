"""At batch 1 on several threads, a step's update is split among the threads in
proportion to the speed each showed on the steps before (BalancedShares in
fast/single_row_step.cpp), since the thread that ran the forward pass holds
the weights in its cache. The split moves from step to step with the
timings; it must never change a bit. The reference is the same training on
one thread, on the references' model (large enough for the update to take
two threads)."""

import numpy as np
import pytest

import fastmlp
from fastmlp.layers import Dense


def mnist_like(rows, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((rows, 784), np.float32)
    for row in x:
        lit = rng.choice(784, 150, replace=False)
        row[lit] = rng.random(150).astype(np.float32)
    return x, rng.integers(0, 10, size=rows).astype(np.int32)


def trained(optimizer, threads, x, y):
    fastmlp.set_num_threads(threads)
    m = fastmlp.Sequential(
        [Dense(300, activation="relu"), Dense(100, activation="relu"), Dense(10, activation="softmax")],
        input_dim=784,
        seed=0,
    )
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=1, epochs=2, shuffle=True, verbose=0)
    state = m.optimizer.state_dict()["state"]
    arrays = [np.asarray(v).copy() for entry in state for v in entry.values() if isinstance(v, np.ndarray)]
    return m.weights.copy(), arrays, m._network.last_step == "single_row"


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "adagrad"])
def test_a_moving_split_gives_the_bits_of_one_thread(optimizer):
    x, y = mnist_like(200)
    one, two = trained(optimizer, 1, x, y), trained(optimizer, 2, x, y)
    assert one[2] and two[2]  # both took the direct path, updated in pieces
    np.testing.assert_array_equal(one[0].view(np.uint32), two[0].view(np.uint32))
    assert len(one[1]) == len(two[1]) > 0
    for a, b in zip(one[1], two[1]):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
