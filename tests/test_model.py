"""Sequential: building, weights, training semantics, determinism, threads."""

import threading
import time

import numpy as np
import pytest

import fastmlp
from conftest import reference_mlp
from fastmlp.layers import Dense


def small_problem(n=200, features=12, classes=4, seed=0):
    """A learnable toy problem: the label is the argmax of a fixed linear map."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ rng.normal(size=(features, classes))).argmax(axis=1)
    return x, y


def small_model(seed=0, features=12, classes=4, **kwargs):
    model = fastmlp.Sequential(
        [Dense(16, activation="relu"), Dense(classes, activation="softmax")], input_dim=features, seed=seed
    )
    model.compile(optimizer=fastmlp.optim.keras.SGD(learning_rate=0.1), metrics=["accuracy"], **kwargs)
    return model


def test_summary_shows_the_references_parameter_count():
    lines = []
    reference_mlp().summary(print_fn=lines.append)
    text = "\n".join(lines)
    for expected in (
        "(None, 300)",
        "235,500",
        "(None, 100)",
        "30,100",
        "(None, 10)",
        "1,010",
        "Total params: 266,610",
        "(None, 28, 28)",
    ):
        assert expected in text


def test_weights_are_views_into_one_flat_buffer():
    model = reference_mlp()
    flat = model.weights
    assert flat.dtype == np.float32 and flat.shape == (266_610,)
    kernel = model.layers[0].kernel
    assert kernel.shape == (784, 300) and np.shares_memory(kernel, flat)
    kernel[0, 0] = 123.0
    assert flat[0] == 123.0
    bias = model.layers[0].bias
    assert bias.shape == (300,) and np.all(bias == 0)
    assert np.shares_memory(bias, flat) and flat[784 * 300] is not None


def test_get_and_set_weights_round_trip():
    a, b = reference_mlp(seed=1), reference_mlp(seed=2)
    assert not np.array_equal(a.weights, b.weights)
    weights = a.get_weights()
    assert [w.shape for w in weights] == [(784, 300), (300,), (300, 100), (100,), (100, 10), (10,)]
    b.set_weights(weights)
    assert np.array_equal(a.weights, b.weights)
    weights[0][:] = 0  # get_weights returns copies
    assert not np.all(a.layers[0].kernel == 0)


def test_set_weights_rejects_bad_input_without_changing_anything():
    model = reference_mlp()
    before = model.weights.copy()
    weights = model.get_weights()
    with pytest.raises(ValueError, match=r"\(300, 784\).*\(784, 300\)"):
        model.set_weights([weights[0].T] + weights[1:])
    bad = [w.copy() for w in weights]
    bad[5][0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.set_weights(bad)
    with pytest.raises(ValueError, match="6"):
        model.set_weights(weights[:4])
    assert np.array_equal(model.weights, before)


def test_predict_is_a_numpy_forward_pass_on_flattened_images():
    model = reference_mlp(seed=3)
    x = np.random.default_rng(0).random((37, 28, 28), dtype=np.float32)
    w = [v.astype(np.float64) for v in model.get_weights()]
    h = x.reshape(37, 784).astype(np.float64)
    h = np.maximum(h @ w[0] + w[1], 0)
    h = np.maximum(h @ w[2] + w[3], 0)
    z = h @ w[4] + w[5]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    out = model.predict(x)
    assert out.dtype == np.float32 and out.shape == (37, 10)
    np.testing.assert_allclose(out, p, rtol=1e-5, atol=1e-7)
    # predict in batches gives the same rows (up to the matrix product's
    # summation order, which depends on the block shape)
    np.testing.assert_allclose(model.predict(x, batch_size=5), model.predict(x, batch_size=37), rtol=1e-5)


def test_train_on_batch_applies_the_sgd_formula():
    model = small_model()
    x, y = small_problem(n=32)
    before = model.weights.copy()
    model.train_on_batch(x, y)
    grads = model._network.grads.copy()
    assert np.any(grads != 0)
    # float32 p - lr*g exactly (the core does not contract it into an FMA)
    np.testing.assert_array_equal(model.weights, before - np.float32(0.1) * grads)
    assert model.optimizer.iterations == 1


def test_history_has_keras_keys_and_the_partial_batch_counts():
    x, y = small_problem(n=203)
    model = small_model()
    history = model.fit(x, y, batch_size=20, epochs=3, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_time"}
    assert all(len(v) == 3 for v in history.history.values())
    # ceil(203 * 0.8) = 163 training rows -> 9 batches of 20 and one of 3, per epoch
    assert model.optimizer.iterations == 3 * 9
    assert history.params["samples"] == 163


def test_fit_learns_a_toy_problem():
    x, y = small_problem(n=500)
    model = small_model()
    history = model.fit(x, y, batch_size=16, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    loss, accuracy = model.evaluate(x, y)
    assert accuracy > 0.9
    assert np.isclose(loss, history.history["loss"][-1], rtol=0.5)


def test_validation_split_holds_out_the_last_rows():
    x, y = small_problem(n=100)
    model = small_model()
    history = model.fit(x, y, batch_size=10, epochs=1, validation_split=0.3, verbose=0, shuffle=False)
    val_loss, val_accuracy = model.evaluate(x[70:], y[70:])
    assert history.history["val_loss"][0] == pytest.approx(val_loss, rel=1e-12)
    assert history.history["val_accuracy"][0] == val_accuracy


def test_same_seed_gives_bit_identical_training_and_other_seeds_differ():
    x, y = small_problem(n=300)

    def train(seed):
        model = small_model(seed=seed)
        model.fit(x, y, batch_size=7, epochs=3, verbose=0)
        return model.weights.copy()

    first, again, other = train(5), train(5), train(6)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_training_does_not_depend_on_where_the_input_starts_in_memory():
    # Eigen's loops peel up to an aligned address; results must not follow
    # the caller's array alignment (or the heap's mood from run to run).
    x, y = small_problem(n=120)
    results = []
    for offset in (0, 1, 3, 8):
        buffer = np.empty(x.size + 16, np.float32)
        shifted = buffer[offset : offset + x.size].reshape(x.shape)
        shifted[...] = x
        for shuffle in (False, True):
            model = small_model(seed=5)
            model.fit(shifted, y, batch_size=7, epochs=1, verbose=0, shuffle=shuffle)
            results.append((shuffle, model.weights.copy()))
    for shuffle in (False, True):
        runs = [w for s, w in results if s == shuffle]
        assert all(np.array_equal(runs[0], w) for w in runs[1:])


def test_each_epoch_draws_a_new_order():
    # Two models from the same seed; one runs 2 epochs in one fit, the other two
    # fits of 1: the same trajectory. A third repeats epoch 1's order twice.
    x, y = small_problem(n=100)
    a, b = small_model(seed=1), small_model(seed=1)
    a.fit(x, y, batch_size=8, epochs=2, verbose=0)
    b.fit(x, y, batch_size=8, epochs=1, verbose=0)
    b.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.array_equal(a.weights, b.weights)
    unshuffled = small_model(seed=1)
    unshuffled.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    assert not np.array_equal(a.weights, unshuffled.weights)


def test_uint8_and_float64_inputs_train_exactly_like_float32():
    rng = np.random.default_rng(0)
    x8 = rng.integers(0, 3, size=(64, 12), dtype=np.uint8)
    y = rng.integers(0, 4, size=64)

    def train(x, labels):
        model = small_model(seed=2)
        model.fit(x, labels, batch_size=8, epochs=2, verbose=0)
        return model.weights.copy()

    reference = train(x8.astype(np.float32), y.astype(np.int64))
    assert np.array_equal(train(x8, y.astype(np.uint8)), reference)
    assert np.array_equal(train(x8.astype(np.float64), y.astype(np.int16)), reference)


def test_deferred_build_from_the_first_fit():
    x, y = small_problem(n=40, features=9)
    model = fastmlp.Sequential([Dense(8, activation="tanh"), Dense(4, activation="softmax")], seed=0)
    assert not model.built
    model.compile(optimizer="sgd", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.layers[0].kernel.shape == (9, 8)


def test_categorical_crossentropy_with_one_hot_targets_matches_sparse():
    x, y = small_problem(n=64)
    sparse = small_model(seed=4)
    dense = small_model(seed=4, loss="categorical_crossentropy")
    sparse.fit(x, y, batch_size=8, epochs=2, verbose=0)
    dense.fit(x, np.eye(4)[y], batch_size=8, epochs=2, verbose=0)
    np.testing.assert_allclose(dense.weights, sparse.weights, rtol=1e-5, atol=1e-6)


def test_mse_on_a_regression_target():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 3)).astype(np.float32)
    target = x @ np.array([1.0, -2.0, 0.5])
    model = fastmlp.Sequential([Dense(1)], input_dim=3, seed=0)
    model.compile(optimizer=fastmlp.optim.keras.SGD(learning_rate=0.05), loss="mse")
    model.fit(x, target, batch_size=16, epochs=40, verbose=0)
    np.testing.assert_allclose(model.layers[0].kernel[:, 0], [1.0, -2.0, 0.5], atol=1e-3)
    assert abs(model.layers[0].bias[0]) < 1e-3


def test_divergence_stops_fit_instead_of_crashing(capsys):
    x, y = small_problem(n=64)
    model = small_model()
    model.optimizer.learning_rate = 1e30
    history = model.fit(x * 1e10, y, batch_size=8, epochs=5, verbose=1)
    assert len(history.history["loss"]) < 5
    assert "NaN" in capsys.readouterr().out


def test_thread_count_is_settable_and_training_works_on_one_and_two():
    x, y = small_problem(n=500)
    results = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        assert fastmlp.get_num_threads() == threads
        model = small_model(seed=3)
        model.fit(x, y, batch_size=50, epochs=2, verbose=0)
        results.append(model.weights.copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError):
        fastmlp.set_num_threads(0)


def test_training_releases_the_gil():
    # While a C++ epoch runs in a thread, this thread keeps executing Python.
    rng = np.random.default_rng(0)
    x = rng.random((6000, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=6000)
    model = reference_mlp(input_shape=(784,))
    model.compile(optimizer="sgd")
    x = model._features(x)
    y = model._targets(y, len(x))
    worker = threading.Thread(target=model._network.train_epoch, args=(x, y, 8, True, 0))
    ticks = 0
    worker.start()
    start = time.perf_counter()
    while worker.is_alive():
        ticks += 1
    elapsed = time.perf_counter() - start
    worker.join()
    assert elapsed > 0.05
    assert ticks > 1000, f"only {ticks} Python iterations in {elapsed:.2f}s of training"
