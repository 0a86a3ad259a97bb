"""Optimizers inside a model: compile by name, schedules through fit,
per-tensor clipping on the flat buffer, state dicts, the references' runs."""

import numpy as np
import pytest

import fastmlp
from conftest import reference_mlp
from fastmlp import optim
from fastmlp.layers import Dense
from fastmlp.optim import schedules

KERAS_NAMES = ["sgd", "adam", "rmsprop", "adagrad", "adamw", "adamax", "nadam", "adadelta", "lion"]


def toy(n=96, features=10, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ rng.normal(size=(features, classes))).argmax(axis=1)
    return x, y


def toy_model(optimizer, seed=0):
    model = fastmlp.Sequential([Dense(12, activation="tanh"), Dense(3, activation="softmax")], input_dim=10, seed=seed)
    model.compile(optimizer=optimizer, metrics=["accuracy"])
    return model


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_every_name_compiles_to_the_keras_class_and_trains(name):
    model = toy_model(name)
    assert type(model.optimizer).__module__.startswith("fastmlp.optim")
    assert isinstance(model.optimizer, optim.get(name).__class__)
    x, y = toy()
    before = model.weights.copy()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert np.all(np.isfinite(model.weights)) and not np.array_equal(before, model.weights)
    assert model.optimizer.iterations == 12
    assert np.isfinite(history.history["loss"]).all()


def flat_layer_views(model):
    return [v for layer in model.layers for v in (layer.kernel, layer.bias)]


@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.keras.Adam(learning_rate=0.01, clipnorm=0.05),
        lambda: optim.keras.SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=0.1),
        lambda: optim.keras.RMSprop(clipvalue=1e-3, weight_decay=0.1),
        lambda: optim.NAdam(lr=0.01, weight_decay=0.01),
    ],
)
def test_the_flat_buffer_update_equals_per_array_updates(make):
    # A compiled optimizer updates the model's one flat buffer; clipnorm must
    # still act per tensor (each kernel and bias), as Keras does per variable.
    x, y = toy(n=16)
    model = toy_model(make())
    arrays = [v.copy() for v in flat_layer_views(model)]
    config = {k: v for k, v in make().get_config().items() if k != "name"}
    standalone = type(make())(arrays, **config)
    for _ in range(3):
        model.train_on_batch(x, y)
        grads = [g.copy() for i in range(len(model.layers)) for g in model._network.layer_grads(i)]
        standalone.step(grads)
    for view, array in zip(flat_layer_views(model), arrays):
        np.testing.assert_array_equal(view, array)


def test_a_schedule_in_fit_gives_each_step_its_rate():
    x, y = toy(n=50)
    schedule = schedules.ExponentialDecay(0.2, decay_steps=3, decay_rate=0.5)
    fitted = toy_model(optim.keras.SGD(learning_rate=schedule))
    fitted.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # 7 steps an epoch
    stepped = toy_model(optim.keras.SGD(learning_rate=schedule))
    for _ in range(2):
        for start in range(0, 50, 8):
            stepped.train_on_batch(x[start : start + 8], y[start : start + 8])
    np.testing.assert_array_equal(fitted.weights, stepped.weights)
    assert fitted.optimizer.iterations == 14
    assert fitted.optimizer.learning_rate == pytest.approx(0.2 * 0.5 ** (14 / 3))
    # and the schedule mattered: a constant rate ends elsewhere
    constant = toy_model(optim.keras.SGD(learning_rate=0.2))
    constant.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert not np.array_equal(constant.weights, fitted.weights)


def test_model_optimizer_state_dict_resumes_the_same_trajectory():
    x, y = toy(n=64)
    a = toy_model(optim.keras.Adam(learning_rate=0.01))
    a.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    saved_weights, saved_state = a.get_weights(), a.optimizer.state_dict()
    a.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

    b = toy_model(optim.keras.Adam(learning_rate=0.01), seed=9)
    b.set_weights(saved_weights)
    b.optimizer.load_state_dict(saved_state)
    assert b.optimizer.iterations == 8
    b.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.optimizer.state_bytes() == 2 * 4 * a.count_params()


def test_an_optimizer_with_its_own_arrays_cannot_be_compiled():
    w = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="own arrays"):
        toy_model(optim.Adam([w]))


def test_learning_rate_schedule_values_are_checked_before_training():
    with pytest.raises(ValueError, match="schedule value at step 0"):
        optim.keras.SGD(learning_rate=lambda step: -1.0)
    model = toy_model(optim.keras.SGD(learning_rate=lambda step: 0.1 - 0.05 * step))
    x, y = toy(n=8)
    before = model.weights.copy()
    with pytest.raises(ValueError, match="schedule value at step 3"):
        model.fit(x, y, batch_size=2, verbose=0)  # 4 steps: the last rate is negative
    np.testing.assert_array_equal(model.weights, before)  # nothing half-done


@pytest.mark.parametrize("name,threshold", [("adam", 0.975), ("rmsprop", 0.972)])
def test_reference_mlp_with_keras_adam_and_rmsprop(mnist, name, threshold):
    # Reference 000 reports 0.9813 (Adam) and 0.9784 (RMSprop). Measured here
    # over seeds 0-3: Adam 0.9778 +- 0.0011, RMSprop 0.9784 +- 0.0033 (min 0.9732).
    (x_train, y_train), (x_test, y_test) = mnist
    fastmlp.set_num_threads(2)
    model = reference_mlp(seed=0)
    model.compile(optimizer=name, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        x_train[5000:],
        y_train[5000:],
        validation_data=(x_train[:5000], y_train[:5000]),
        batch_size=32,
        epochs=5,
        verbose=0,
    )
    assert model.evaluate(x_test, y_test)[1] >= threshold
