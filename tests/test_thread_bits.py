"""Training gives the same bits on 1 and 2 threads. Every product sums in an
order fixed by the shapes, and every update is elementwise, so the thread
count may change only the speed. On 2 threads the references' model (266,610
parameters, enough for the update to split) takes the paths that only run
there: the update claiming its weights' cache lines ahead (fused_loop with
Span::shared_params), at batch 1 the gradient pieces shared out between
threads (fast/single_row_step.cpp), and from 21 rows the mini-batch gather
on both threads (33 rows: an odd split, and a last batch of 31)."""

import numpy as np
import pytest

import fastmlp
from fastmlp.layers import Dense


def mnist_like(rows, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((rows, 784), np.float32)
    for row in x:
        on = rng.choice(784, 150, replace=False)
        row[on] = rng.random(150, dtype=np.float32)
    return x, rng.integers(0, 10, size=rows).astype(np.int32)


def trained_weights(optimizer, threads, batch_size, x, y):
    fastmlp.set_num_threads(threads)
    model = fastmlp.Sequential(
        [Dense(300, activation="relu"), Dense(100, activation="relu"), Dense(10, activation="softmax")],
        input_dim=784,
        seed=0,
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch_size, epochs=2, verbose=0)  # shuffled: rows gathered
    return model.weights.copy()


@pytest.mark.parametrize("batch_size", [1, 32, 33])
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd", "momentum"])
def test_one_and_two_threads_train_to_the_same_bits(optimizer, batch_size):
    x, y = mnist_like(64 if batch_size > 1 else 12)
    x[5] = 0  # a row without nonzeros
    make = (
        (lambda: fastmlp.optim.keras.SGD(learning_rate=0.05, momentum=0.9))
        if optimizer == "momentum"
        else (lambda: optimizer)
    )
    one = trained_weights(make(), 1, batch_size, x, y)
    two = trained_weights(make(), 2, batch_size, x, y)
    np.testing.assert_array_equal(one, two)
    # The bits do depend on the work: the rows in another order train elsewhere.
    assert not np.array_equal(one, trained_weights(make(), 2, batch_size, x[::-1].copy(), y[::-1].copy()))
