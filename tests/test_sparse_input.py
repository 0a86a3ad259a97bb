"""The first layer's products through the input's nonzeros (sparse.cpp).

Skipping a zero input is exact, so the sparse path must agree with the dense
product: to the bit where both are fastmlp's own AVX-512 kernels (the same
fused multiply-add chain over k, minus its zero terms), else to rounding. It
must also agree with a float64 NumPy reference, pick the dense product for
dense chunks, and give the same bits on any thread count."""

import numpy as np
import pytest

import fastmlp
from fastmlp.layers import Dense

OWN_PRODUCT = fastmlp.build_info()["gemm"] == "avx512"


def sparse_rows(n, features=784, density=0.2, seed=0):
    """Rows with about `density` nonzeros, clustered like MNIST's strokes, in [0, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, features)).astype(np.float32)
    x[rng.random((n, features)) >= density] = 0
    return x


def mlp(density, optimizer="sgd", features=784, seed=0):
    model = fastmlp.Sequential(
        [Dense(300, activation="relu"), Dense(100, activation="relu"), Dense(10, activation="softmax")],
        input_dim=features,
        seed=seed,
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.sparse_input_max_density = density
    return model


def labels(n, seed=1):
    return np.random.default_rng(seed).integers(0, 10, n).astype(np.int32)


def assert_same(a, b):
    if OWN_PRODUCT:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("n", [1, 7, 32, 256, 600])  # 600: three chunks of rows
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_matches_the_dense_product(n, optimizer):
    x, y = sparse_rows(n), labels(n)
    dense, sparse = mlp(0.0, optimizer), mlp(1.0, optimizer)
    for _ in range(3):
        dense.train_on_batch(x, y)
        sparse.train_on_batch(x, y)
    assert dense._network.last_sparse_rows == 0
    assert sparse._network.last_sparse_rows == n
    assert_same(sparse._network.grads, dense._network.grads)
    assert_same(sparse.weights, dense.weights)
    assert_same(sparse.predict(x), dense.predict(x))


@pytest.mark.parametrize("density", [0.0, 1.0])  # also the dense product, chunked the same way
@pytest.mark.parametrize("n", [40, 600])  # 600: three chunks of rows, summed into one dW
@pytest.mark.parametrize("outputs", [37, 337])  # masked last vectors; 337 = 22 vectors, two passes over a row
def test_first_layer_products_match_a_float64_reference(n, density, outputs):
    """One linear Dense layer and mean squared error: the first layer's output
    is x W + b and its gradient x^T dy, with dy = 2 (y - t) / (n * outputs)."""
    features = 300
    x = sparse_rows(n, features, density=0.15)
    x[3] = 0  # a row with no nonzeros
    x[:, 5] = 0  # and a column
    x[7, 9] = -0.0
    t = np.random.default_rng(2).normal(size=(n, outputs)).astype(np.float32)
    model = fastmlp.Sequential([Dense(outputs)], input_dim=features, seed=3)
    model.compile(optimizer="sgd", loss="mse")  # grads are taken before the update
    model.sparse_input_max_density = density
    w, b = (p.astype(np.float64) for p in model.get_weights())
    y = x.astype(np.float64) @ w + b
    np.testing.assert_allclose(model.predict(x), y, rtol=1e-5, atol=1e-6)
    model.train_on_batch(x, t)
    assert model._network.last_sparse_rows == (n if density else 0)
    dy = 2 * (y - t) / (n * outputs)
    dw, db = model._network.layer_grads(0)
    np.testing.assert_allclose(dw, x.T.astype(np.float64) @ dy, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-5, atol=1e-7)


def test_dense_chunks_take_the_dense_product():
    x = sparse_rows(600, density=0.2)
    x[256:512] = np.random.default_rng(4).random((256, 784))  # the second chunk: no zeros
    y = labels(600)
    dense, auto = mlp(0.0), mlp(0.3)
    for model in (dense, auto):
        model.train_on_batch(x, y)
    assert auto._network.last_sparse_rows == 600 - 256
    assert_same(auto._network.grads, dense._network.grads)
    auto.train_on_batch(np.random.default_rng(5).random((32, 784)).astype(np.float32), y[:32])
    assert auto._network.last_sparse_rows == 0


def test_same_bits_on_any_thread_count():
    x, y = sparse_rows(96), labels(96)
    weights = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        model = mlp(1.0)
        model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        weights.append(model.weights.copy())
    np.testing.assert_array_equal(weights[0], weights[1])


def test_nan_inputs_still_propagate():
    """The Python API refuses NaN inputs; the core must still not hide one."""
    x = sparse_rows(8)
    x[2, 100] = np.nan
    model = fastmlp.Sequential([Dense(10)], input_dim=784, seed=0)  # linear: relu would map NaN to 0
    model.sparse_input_max_density = 1.0
    out = model._network.predict(x, 8)
    assert model._network.last_sparse_rows == 8
    assert np.isnan(out[2]).all() and np.isfinite(np.delete(out, 2, axis=0)).all()


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.3", True])
def test_the_density_must_be_a_fraction(bad):
    model = mlp(0.3)
    with pytest.raises(ValueError, match="sparse_input_max_density"):
        model.sparse_input_max_density = bad


def test_the_setting_applies_to_a_model_built_later():
    model = fastmlp.Sequential([Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.sparse_input_max_density = 0.0
    model.fit(sparse_rows(64), labels(64), epochs=1, verbose=0)
    assert model._network.sparse_input_max_density == 0.0
    assert model._network.last_sparse_rows == 0


def test_mnist_training_is_identical_either_way(mnist):
    (x_train, y_train), _ = mnist
    x, y = x_train[:2000].reshape(-1, 784), y_train[:2000].astype(np.int32)
    runs = []
    for density in (0.0, 0.3):
        model = mlp(density, optimizer="rmsprop")
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        runs.append(model.weights.copy())
    assert_same(runs[0], runs[1])


@pytest.mark.parametrize("kernel_regularizer", [None, fastmlp.regularizers.L2(1e-3)])
def test_gradients_stay_exact_as_the_nonzero_features_move(kernel_regularizer):
    """The first layer's backward leaves dW rows untouched that it knows hold
    zeros: every step's gradient must still equal the dense product's, as
    batches switch between disjoint features, a dense batch, and back."""
    rng = np.random.default_rng(6)
    left, right = sparse_rows(8, seed=7), sparse_rows(8, seed=8)
    left[:, 392:] = 0
    right[:, :392] = 0
    # 600 rows: three chunks, features on the left in the first and on the right in the last.
    chunked = np.concatenate(
        [
            sparse_rows(256, seed=9) * (np.arange(784) < 392),
            np.zeros((256, 784), np.float32),
            sparse_rows(88, seed=10) * (np.arange(784) >= 392),
        ]
    ).astype(np.float32)
    batches = [
        left,
        right,
        left,
        rng.random((8, 784)).astype(np.float32),
        right,
        chunked,
        right,
        np.zeros((8, 784), np.float32),
    ]
    models = []
    for density in (0.0, 1.0):
        model = fastmlp.Sequential(
            [Dense(30, activation="relu", kernel_regularizer=kernel_regularizer), Dense(10, activation="softmax")],
            input_dim=784,
            seed=0,
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.sparse_input_max_density = density
        models.append(model)
    for x in batches:
        for model in models:
            model.train_on_batch(x, labels(len(x)))
        assert_same(models[1]._network.grads, models[0]._network.grads)
    if kernel_regularizer is None:  # the last batch has no nonzero input
        assert np.count_nonzero(models[1]._network.layer_grads(0)[0]) == 0


def test_gradient_views_are_read_only():
    model = mlp(0.3)
    model.train_on_batch(sparse_rows(4), labels(4))
    with pytest.raises(ValueError, match="read-only"):
        model._network.grads[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        model._network.layer_grads(0)[0][:] = 0.0
    model._network.params[0] = 1.0  # parameters stay writable


SGD_FACTORIES = {
    "default": lambda: "sgd",
    "torch": lambda: fastmlp.optim.SGD(lr=0.05),
    "keras clipvalue": lambda: fastmlp.optim.keras.SGD(learning_rate=0.1, clipvalue=0.01),
}


def dense_and_sparse_runs(factory, layers, batches):
    """The same training with the sparse path off (density 0: every row of the
    first layer updated) and on: each run's weights and the step that took
    each update ("zero_row_update": the one that skips zero rows)."""
    runs = []
    for density in (0.0, 1.0):
        model = fastmlp.Sequential(
            [Dense(units, activation=activation) for units, activation in layers], input_dim=784, seed=0
        )
        model.compile(optimizer=factory(), loss="sparse_categorical_crossentropy")
        model.sparse_input_max_density = density
        ranges = []
        for step, x in enumerate(batches):
            model.train_on_batch(x, labels(len(x), seed=step))
            ranges.append(model._network.last_step)
        runs.append((model.weights.copy(), ranges))
    return runs


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("optimizer", sorted(SGD_FACTORIES))
def test_plain_sgd_skips_zero_gradients_exactly(optimizer, threads):
    """Plain SGD leaves a parameter with zero gradient as it is, so the update
    visits only the first layer's kernel rows that saw a nonzero input (and
    everything after them): the weights must match the full pass's bits."""
    fastmlp.set_num_threads(threads)
    rng = np.random.default_rng(11)
    batches = np.zeros((6, 2, 784), np.float32)  # two rows: one row steps inside backward (test_direct_steps.py)
    for x in batches:
        for row in x:
            row[rng.choice(784, 30, replace=False)] = rng.random(30)
    (dense, dense_ranges), (sparse, sparse_ranges) = dense_and_sparse_runs(
        SGD_FACTORIES[optimizer], [(64, "relu"), (10, "softmax")], batches
    )
    assert_same(dense, sparse)
    assert "zero_row_update" not in dense_ranges  # the dense path updates everything
    assert all(r == "zero_row_update" for r in sparse_ranges)


@pytest.mark.parametrize("optimizer", sorted(SGD_FACTORIES) + ["torch maximize"])
def test_plain_sgd_ranges_shared_between_threads(optimizer):
    """The references' model at batch 32: the rows that saw a nonzero input
    hold enough values for the update to share them between two threads as
    one run (Optimizer::step_ranges). Same bits as the full pass."""
    fastmlp.set_num_threads(2)
    factories = {**SGD_FACTORIES, "torch maximize": lambda: fastmlp.optim.SGD(lr=0.05, maximize=True)}
    rng = np.random.default_rng(12)
    batches = np.zeros((5, 32, 784), np.float32)
    for x in batches:
        for row in x:  # a band of the image, so that some rows stay dark in the whole batch
            row[rng.choice(np.arange(150, 650), 150, replace=False)] = rng.random(150)
    (dense, dense_ranges), (sparse, sparse_ranges) = dense_and_sparse_runs(
        factories[optimizer], [(300, "relu"), (100, "relu"), (10, "softmax")], batches
    )
    assert_same(dense, sparse)
    assert "zero_row_update" not in dense_ranges
    assert all(r == "zero_row_update" for r in sparse_ranges)


@pytest.mark.parametrize(
    "optimizer",
    ["adam", "rmsprop", "adagrad", fastmlp.optim.keras.SGD(momentum=0.9), fastmlp.optim.keras.SGD(global_clipnorm=1.0)],
)
def test_other_rules_update_every_parameter(optimizer):
    model = fastmlp.Sequential([Dense(64, activation="relu"), Dense(10, activation="softmax")], input_dim=784)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    for step in range(3):
        model.train_on_batch(sparse_rows(2, density=0.05, seed=step), labels(2))
        assert model._network.last_step == "reference"
