"""A single row through Dense layers updates the weights inside backward and
stores no gradient (SingleRowStep, fast/single_row_step.cpp): plain SGD value
by value (dense_rank_one_update), every other optimizer without norm clipping
from L1-sized pieces of gradient (single_row_gradient).
It must give the bits of the stored-gradient step: each gradient value
x[k] dy[j] is one multiply-add onto zero either way, and the update is the
same rule. The stored-gradient path is the one a network takes once its
gradients have been read, so a twin network that reads them first is the
reference. The float64 check of the direct path is test_network_reference.py's
single-row test."""

import numpy as np
import pytest

import fastmlp
from fastmlp.layers import BatchNormalization, Dense, Dropout

optim, keras = fastmlp.optim, fastmlp.optim.keras

SGD_FACTORIES = {
    "keras default": lambda: "sgd",
    "torch": lambda: optim.SGD(lr=0.05),
    "torch maximize": lambda: optim.SGD(lr=0.05, maximize=True),
    "keras clipvalue": lambda: keras.SGD(learning_rate=0.1, clipvalue=0.01),
}
# Every rule, with the options that change its loop (state, decay, clipping by value).
PIECEWISE_FACTORIES = {
    "keras momentum": lambda: keras.SGD(learning_rate=0.05, momentum=0.9),
    "torch nesterov, decay": lambda: optim.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "torch dampening": lambda: optim.SGD(lr=0.05, momentum=0.5, dampening=0.3),
    "keras adam": lambda: "adam",
    "torch adam amsgrad": lambda: optim.Adam(lr=1e-3, amsgrad=True),
    "torch adamw maximize": lambda: optim.AdamW(lr=1e-3, maximize=True),
    "keras adamw clipvalue": lambda: keras.AdamW(learning_rate=1e-3, clipvalue=0.01),
    "keras rmsprop": lambda: "rmsprop",
    "torch rmsprop centered momentum": lambda: optim.RMSprop(lr=1e-3, centered=True, momentum=0.9),
    "keras adagrad": lambda: "adagrad",
    "torch adagrad lr_decay": lambda: optim.Adagrad(lr=0.01, lr_decay=0.01),
    "keras adadelta": lambda: keras.Adadelta(learning_rate=1.0),
    "torch adamax": lambda: optim.Adamax(),
    "keras adamax": lambda: "adamax",
    "torch nadam": lambda: optim.NAdam(),
    "keras nadam": lambda: "nadam",
    "torch radam": lambda: optim.RAdam(),
    "torch lion": lambda: optim.Lion(lr=1e-3, weight_decay=0.1),
}
FACTORIES = {**SGD_FACTORIES, **PIECEWISE_FACTORIES}


def single_rows(steps, features=784, seed=0):
    """Mostly-zero rows like MNIST's, plus one all-zero row."""
    rng = np.random.default_rng(seed)
    x = np.zeros((steps, 1, features), np.float32)
    for row in x[:-1]:
        row[0, rng.choice(features, features // 5, replace=False)] = rng.random(features // 5)
    y = rng.integers(0, 10, size=(steps, 1)).astype(np.int32)
    return x, y


def model(optimizer, layers=None, density=0.3):
    layers = layers or [Dense(64, activation="relu"), Dense(32, activation="tanh"), Dense(10, activation="softmax")]
    m = fastmlp.Sequential(layers, input_dim=784, seed=0)
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    m.sparse_input_max_density = density
    return m


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("density", [0.0, 0.3])
@pytest.mark.parametrize("optimizer", sorted(FACTORIES))
def test_direct_steps_give_the_stored_gradient_bits(optimizer, density, threads):
    fastmlp.set_num_threads(threads)
    direct, stored = model(FACTORIES[optimizer](), density=density), model(FACTORIES[optimizer](), density=density)
    x, y = single_rows(8)
    direct.train_on_batch(x[0], y[0])  # builds the network
    stored.train_on_batch(x[0], y[0])
    _ = stored._network.grads  # read: every later step stores its gradients
    for step in range(1, len(x)):
        direct.train_on_batch(x[step], y[step])
        stored.train_on_batch(x[step], y[step])
        assert direct._network.last_step == "single_row" and stored._network.last_step != "single_row"
        np.testing.assert_array_equal(direct.weights, stored.weights)
    # Formed on demand, the gradients are the stored ones, bit for bit...
    np.testing.assert_array_equal(direct._network.grads, stored._network.grads)
    for layer in range(3):
        for a, b in zip(direct._network.layer_grads(layer), stored._network.layer_grads(layer)):
            np.testing.assert_array_equal(a, b)
    # ...and having been read, they stay current: the next step stores them.
    held = direct._network.grads
    before = held.copy()
    direct.train_on_batch(x[1], y[1])
    assert direct._network.last_step != "single_row"
    assert not np.array_equal(held, before)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_whole_epoch_at_batch_one_matches_the_stored_gradient_path(optimizer):
    x, y = single_rows(40)
    x, y = x[:, 0], y[:, 0]
    direct, stored = model(optimizer), model(optimizer)
    stored.fit(x[:1], y[:1], batch_size=1, epochs=1, verbose=0)
    _ = stored._network.grads
    direct.fit(x[:1], y[:1], batch_size=1, epochs=1, verbose=0)
    for m in (direct, stored):
        m.fit(x, y, batch_size=1, epochs=2, verbose=0, shuffle=True)
    assert direct._network.last_step == "single_row" and stored._network.last_step != "single_row"
    np.testing.assert_array_equal(direct.weights, stored.weights)
    np.testing.assert_array_equal(direct._network.grads, stored._network.grads)


def test_a_learning_rate_schedule_applies_to_direct_steps():
    x, y = single_rows(6)
    x, y = x[:, 0], y[:, 0]
    schedule = fastmlp.optim.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    direct = model(fastmlp.optim.keras.SGD(learning_rate=schedule))
    stored = model(fastmlp.optim.keras.SGD(learning_rate=schedule))
    stored.fit(x[:1], y[:1], batch_size=1, epochs=1, verbose=0, shuffle=False)
    _ = stored._network.grads
    direct.fit(x[:1], y[:1], batch_size=1, epochs=1, verbose=0, shuffle=False)
    for m in (direct, stored):
        m.fit(x, y, batch_size=1, epochs=1, verbose=0, shuffle=False)
    assert direct._network.last_step == "single_row"
    np.testing.assert_array_equal(direct.weights, stored.weights)
    assert direct.optimizer.iterations == stored.optimizer.iterations == 7


@pytest.mark.parametrize("case", ["clipnorm", "global clipnorm", "regularizer", "batch norm", "dropout", "two rows"])
def test_other_steps_store_their_gradients(case):
    optimizer, layers, rows = "adam", None, 1
    if case == "clipnorm":
        optimizer = keras.Adam(clipnorm=1.0)
    elif case == "global clipnorm":
        optimizer = keras.SGD(global_clipnorm=1.0)
    elif case == "regularizer":
        layers = [
            Dense(16, activation="relu", kernel_regularizer=fastmlp.regularizers.L2(1e-3)),
            Dense(10, activation="softmax"),
        ]
    elif case == "batch norm":
        layers = [Dense(16, activation="relu"), BatchNormalization(), Dense(10, activation="softmax")]
    elif case == "dropout":
        layers = [Dense(16, activation="relu"), Dropout(0.5), Dense(10, activation="softmax")]
    else:
        rows = 2
    m = model(optimizer, layers)
    x, y = single_rows(3)
    m.train_on_batch(np.repeat(x[0], rows, axis=0), np.repeat(y[0], rows))
    assert m._network.last_step != "single_row"
