"""No heap allocation in a steady-state training step.

An instrumented build (FASTMLP_INSTRUMENT=ON) routes the module's own
malloc-family calls and operator new through a counter
(testing/allocation_counter.cpp; the linker's --wrap). After a
warm-up that sizes the workspace and optimizer state, steps and whole
epochs must allocate nothing, for every layer kind and optimizer family,
on one thread and on several, with full and partial batches.

That holds where the matrix products are fastmlp's own (AVX-512 builds,
build_info()["gemm"] == "avx512", which CI runs). Where they fall back to
Eigen's product, Eigen allocates its packing buffers inside each product
call, so there the bound is one allocation per product per step.
"""

import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, optim
from fastmlp.layers import BatchNormalization, Dense, Dropout
from fastmlp.regularizers import L2

pytestmark = [
    pytest.mark.instrumented,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="the allocation counter needs the GNU linker's --wrap"
    ),
]


def test_the_counter_is_built_in_and_counts():
    assert _core.allocation_counter_enabled()
    before = _core.allocation_count()
    _core.Network(20, [{"kind": "dense", "units": 30, "activation": "relu"}])  # vectors: allocates
    assert _core.allocation_count() > before


OWN_PRODUCT = fastmlp.build_info()["gemm"] != "eigen"


def assert_steady_state(allocations, steps, products_per_step):
    if OWN_PRODUCT:
        assert allocations == 0
    else:
        assert allocations <= steps * products_per_step


def problem(n=96, features=40, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = rng.integers(0, classes, size=n).astype(np.int32)
    return x, y


def model_with(layers, optimizer, features=40):
    model = fastmlp.Sequential(layers, input_dim=features, seed=0)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


OPTIMIZERS = {
    "keras.SGD": lambda: optim.keras.SGD(learning_rate=0.01),
    "keras.SGD nesterov": lambda: optim.keras.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
    "keras.Adam clipnorm": lambda: optim.keras.Adam(clipnorm=1.0),
    "keras.RMSprop centered": lambda: optim.keras.RMSprop(centered=True, global_clipnorm=1.0),
    "keras.Nadam": lambda: optim.keras.Nadam(),
    "keras.AdamW": lambda: optim.keras.AdamW(weight_decay=0.01),
    "keras.Adagrad": lambda: optim.keras.Adagrad(),
    "keras.Lion": lambda: optim.keras.Lion(),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_train_steps_allocate_nothing_once_warm(name, threads):
    fastmlp.set_num_threads(threads)
    try:
        # Wide enough that products and the update run on several threads.
        model = model_with(
            [
                Dense(300, activation="relu", kernel_regularizer=L2(1e-4)),
                BatchNormalization(),
                Dropout(0.2),
                Dense(100, activation="tanh"),
                Dense(10, activation="softmax"),
            ],
            OPTIMIZERS[name](),
        )
        x, y = problem()
        network = model._network
        for _ in range(2):
            model.train_on_batch(x, y)
        # Three Dense layers: three products forward, five backward.
        assert_steady_state(network.allocations_in_train_steps(x, y, 5), 5, 8)
        # A partial batch fits the workspace sized for the full one.
        assert_steady_state(network.allocations_in_train_steps(x[:17], y[:17], 3), 3, 8)
    finally:
        fastmlp.set_num_threads(2)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_whole_epoch_allocates_nothing_once_warm(threads):
    fastmlp.set_num_threads(threads)
    try:
        model = model_with(
            [Dense(300, activation="relu"), Dense(100, activation="relu"), Dense(10, activation="softmax")],
            "adam",
            features=784,
        )
        x, y = problem(n=1000, features=784)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # sizes the workspace, state and row order
        steps = -(-len(x) // 32)
        assert_steady_state(model._network.allocations_in_train_epoch(x, y, 32, seed=1), steps, 8)
    finally:
        fastmlp.set_num_threads(2)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_sparse_first_layer_allocates_nothing_once_warm(threads):
    """Mostly-zero inputs take the first layer's sparse products (sparse.cpp),
    whose index buffers are sized on the first step; 600 rows are three chunks."""
    fastmlp.set_num_threads(threads)
    model = model_with([Dense(300, activation="relu"), Dense(10, activation="softmax")], "sgd", features=784)
    x, y = problem(n=600, features=784)
    x[x < 0.85] = 0  # about 20% nonzero, like MNIST
    model.train_on_batch(x, y)
    assert model._network.last_sparse_rows == 600
    # The first layer's products are sparse ones (never Eigen's); the second
    # layer's three can be Eigen's, whose parallel product allocates a buffer
    # per thread besides the shared one.
    products = 3 * (1 + 2 * threads)
    assert_steady_state(model._network.allocations_in_train_steps(x, y, 3), 3, products)
    assert_steady_state(model._network.allocations_in_train_steps(x[:100], y[:100], 3), 3, products)
    # One row: plain SGD updates the weights inside backward, storing no gradient...
    assert_steady_state(model._network.allocations_in_train_steps(x[:1], y[:1], 3), 3, products)
    assert model._network.last_step == "single_row"
    # ...which are formed when read; from then on each step stores them, and
    # the update visits only the kernel rows that saw a nonzero input.
    _ = model._network.grads
    assert_steady_state(model._network.allocations_in_train_steps(x[:1], y[:1], 3), 3, products)
    assert model._network.last_step != "single_row"
    assert model._network.last_step == "zero_row_update"


def test_the_hook_sees_a_step_that_does_allocate():
    """The first step sizes the workspace: the hook must see that, or a zero
    above would prove nothing."""
    model = model_with([Dense(64, activation="relu"), Dense(10, activation="softmax")], "sgd")
    x, y = problem()
    assert model._network.allocations_in_train_steps(x, y, 1) > 0
    # A larger batch than any before grows the workspace again.
    x2, y2 = problem(n=200)
    assert model._network.allocations_in_train_steps(x2, y2, 1) > 0
    # Two Dense layers: two products forward, three backward.
    assert_steady_state(model._network.allocations_in_train_steps(x2, y2, 1), 1, 5)
