"""Bad input at the Python boundary: a ValueError or TypeError that names
the problem, never a crash and never a silent conversion."""

import numpy as np
import pytest

import fastmlp
from fastmlp import _core
from fastmlp.layers import BatchNormalization, Dense, Dropout


def compiled_model(**compile_kwargs):
    model = fastmlp.Sequential([Dense(8, activation="relu"), Dense(3, activation="softmax")], input_dim=5, seed=0)
    model.compile(optimizer="sgd", metrics=["accuracy"], **compile_kwargs)
    return model


X = np.zeros((6, 5), np.float32)
Y = np.array([0, 1, 2, 0, 1, 2])


def test_wrong_feature_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(6, 4\).*\(n, 5\)"):
        compiled_model().fit(np.zeros((6, 4)), Y, verbose=0)
    with pytest.raises(ValueError, match=r"\(6,\)"):
        compiled_model().predict(np.zeros(6))
    image_model = fastmlp.Sequential([Dense(3, activation="softmax")], input_shape=(2, 3))
    image_model.predict(np.zeros((4, 2, 3)))  # matching shape
    image_model.predict(np.zeros((4, 6)))  # already flat
    with pytest.raises(ValueError, match=r"\(4, 3, 2\).*\(n, 2, 3\)"):
        image_model.predict(np.zeros((4, 3, 2)))


def test_sample_and_label_counts_must_match():
    with pytest.raises(ValueError, match="6 samples.*5 labels"):
        compiled_model().fit(X, Y[:5], verbose=0)


@pytest.mark.parametrize("bad", [-1, 3, 100])
def test_labels_outside_the_classes(bad):
    y = Y.copy()
    y[2] = bad
    with pytest.raises(ValueError, match=rf"label {bad} outside \[0, 3\)"):
        compiled_model().fit(X, y, verbose=0)
    with pytest.raises(ValueError, match="outside"):
        compiled_model().evaluate(X, y)


def test_labels_must_be_integers():
    with pytest.raises(TypeError, match="integer"):
        compiled_model().fit(X, Y + 0.5, verbose=0)
    compiled_model().fit(X, Y.astype(np.float64), verbose=0)  # integral floats are fine
    with pytest.raises(TypeError, match="dtype bool"):
        compiled_model().fit(X, Y > 0, verbose=0)
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        compiled_model().fit(X, np.eye(3)[Y], verbose=0)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_the_finite_check_reads_every_block(value):
    # The check runs block by block (no bool per value held at once): a bad
    # value in any block, first, middle, last or a short last one, is found.
    from fastmlp._validation import all_finite

    x = np.ones((5, 7), np.float32)
    assert all_finite(x, block=4)
    for at in range(x.size):
        bad = x.copy()
        bad.reshape(-1)[at] = value
        assert not all_finite(bad, block=4), at
        assert not all_finite(bad)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_inputs(value):
    x = X.copy()
    x[3, 2] = value
    with pytest.raises(ValueError, match="NaN or Inf.*sample 3, feature 2"):
        compiled_model().fit(x, Y, verbose=0)
    with pytest.raises(ValueError, match="NaN or Inf"):
        compiled_model().predict(x)
    with pytest.raises(ValueError, match="x_val.*NaN or Inf"):
        compiled_model().fit(X, Y, validation_data=(x, Y), verbose=0)


def test_float64_beyond_float32_range():
    x = X.astype(np.float64)
    x[0, 0] = 1e300
    with pytest.raises(ValueError, match="float32's range"):
        compiled_model().fit(x, Y, verbose=0)


def test_empty_arrays():
    with pytest.raises(ValueError, match="empty"):
        compiled_model().fit(np.zeros((0, 5)), np.zeros(0, int), verbose=0)
    with pytest.raises(ValueError, match="empty"):
        compiled_model().predict(np.zeros((0, 5)))


def test_non_numeric_inputs():
    with pytest.raises(TypeError, match="dtype"):
        compiled_model().fit(np.full((6, 5), "a"), Y, verbose=0)
    with pytest.raises(TypeError):
        compiled_model().fit([[1, 2], [3]], Y, verbose=0)


@pytest.mark.parametrize("batch_size", [0, -3])
def test_batch_size_below_one(batch_size):
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        compiled_model().fit(X, Y, batch_size=batch_size, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        compiled_model().predict(X, batch_size=batch_size)


def test_batch_size_must_be_an_int():
    with pytest.raises(TypeError, match="batch_size"):
        compiled_model().fit(X, Y, batch_size=2.5, verbose=0)


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_learning_rate_must_be_positive(lr):
    with pytest.raises(ValueError, match="learning_rate"):
        fastmlp.optim.keras.SGD(learning_rate=lr)
    with pytest.raises(ValueError, match="Invalid lr"):
        fastmlp.optim.SGD(lr=lr)
    optimizer = fastmlp.optim.keras.SGD()
    with pytest.raises(ValueError):
        optimizer.learning_rate = lr
    assert optimizer.learning_rate == 0.01


def test_fit_before_compile():
    model = fastmlp.Sequential([Dense(3, activation="softmax")], input_dim=5)
    for call in (lambda: model.fit(X, Y, verbose=0), lambda: model.evaluate(X, Y), lambda: model.train_on_batch(X, Y)):
        with pytest.raises(fastmlp.NotCompiledError, match="compile"):
            call()
    # a ValueError for the contract, a RuntimeError as in Keras
    assert issubclass(fastmlp.NotCompiledError, ValueError)
    assert issubclass(fastmlp.NotCompiledError, RuntimeError)


def test_compile_arguments():
    with pytest.raises(ValueError, match="unknown loss"):
        compiled_model(loss="hinge")
    with pytest.raises(ValueError, match="unknown optimizer"):
        fastmlp.Sequential([Dense(3, activation="softmax")]).compile(optimizer="nope")
    with pytest.raises(TypeError, match="optimizer"):
        fastmlp.Sequential([Dense(3, activation="softmax")]).compile(optimizer=3)
    with pytest.raises(ValueError, match="unknown metric"):
        fastmlp.Sequential([Dense(3, activation="softmax")]).compile(metrics=["f1"])
    with pytest.raises(ValueError, match="softmax output"):
        fastmlp.Sequential([Dense(3, activation="sigmoid")]).compile(loss="categorical_crossentropy")


def test_layer_and_model_arguments():
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    with pytest.raises(TypeError, match="units"):
        Dense(2.0)
    with pytest.raises(ValueError, match="activation"):
        Dense(3, activation="swish")
    with pytest.raises(ValueError, match="kernel_initializer"):
        Dense(3, kernel_initializer="ones")
    with pytest.raises(ValueError, match="not both"):
        fastmlp.Sequential([Dense(3)], input_dim=4, input_shape=(4,))
    with pytest.raises(TypeError, match="Dense"):
        fastmlp.Sequential(["dense"])
    with pytest.raises(ValueError, match="no layers"):
        fastmlp.Sequential([], input_dim=3).predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="seed"):
        fastmlp.Sequential([Dense(3)], seed=-1)


def test_fit_arguments():
    model = compiled_model()
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(X, Y, validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match="not both"):
        model.fit(X, Y, validation_split=0.5, validation_data=(X, Y), verbose=0)
    with pytest.raises(ValueError, match="pair"):
        model.fit(X, Y, validation_data=X, verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(X, Y, epochs=-1, verbose=0)


def test_the_core_rejects_what_would_be_copied_or_crash():
    # Calls straight into the C++ network must fail cleanly too.
    net = _core.Network(5, [3], ["softmax"])
    net.set_loss("sparse_categorical_crossentropy")
    net.set_optimizer(_core.KerasSGD())
    y = np.zeros(6, np.int32)
    with pytest.raises(TypeError, match="float32"):
        net.train_step(X.astype(np.float64), y)
    with pytest.raises(ValueError, match="contiguous"):
        net.train_step(np.zeros((5, 6), np.float32).T, y[:6])
    with pytest.raises(TypeError, match="int32"):
        net.train_step(X, y.astype(np.int64))
    with pytest.raises(ValueError, match="outside"):
        net.train_step(X, np.full(6, 7, np.int32))
    with pytest.raises(ValueError, match="empty"):
        net.train_step(np.zeros((0, 5), np.float32), np.zeros(0, np.int32))
    with pytest.raises(ValueError, match="batch_size"):
        net.train_epoch(X, y, 0, True, 0)
    with pytest.raises(ValueError):
        _core.Network(5, [], [])
    with pytest.raises(ValueError):
        _core.Network(0, [3], ["relu"])
    with pytest.raises(ValueError, match="activation"):
        _core.Network(5, [3], ["gelu"])
    with pytest.raises(TypeError, match="'units' has the wrong type: str"):
        _core.Network(5, [{"kind": "dense", "units": "3"}])
    with pytest.raises(ValueError, match="unknown layer kind"):
        _core.Network(5, [{"kind": "conv"}])
    with pytest.raises(IndexError):
        net.layer_params(1)
    untrained = _core.Network(5, [3], ["softmax"])
    with pytest.raises(RuntimeError, match="loss"):
        untrained.train_step(X, y)


@pytest.mark.parametrize(
    "layers",
    [
        [Dense((2**64 + 2) // 6), Dropout(0.1)],  # (inputs + 1) x units overflows
        [Dense(2**40), Dense(2**40)],  # 2^80 weights
        [Dense(3 * 10**9), BatchNormalization()],  # fits an index, not the machine
    ],
)
def test_layers_too_large_to_allocate_raise_before_allocating(layers):
    with pytest.raises(ValueError, match="too many values|more than this machine"):
        fastmlp.Sequential(layers, input_dim=5)
