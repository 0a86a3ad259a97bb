"""fastmlp.layers.Activation: an activation as a layer of its own, as
keras.layers.Activation. After a linear Dense it computes, and trains, exactly
what the Dense layer's own activation does; it saves and loads; bad names and
cross-entropy losses without a Dense softmax output are refused clearly."""

import numpy as np
import pytest

import fastmlp
from fastmlp import layers, optim
from fastmlp.layers import Activation, Dense, Dropout


def problem(n=64, features=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ rng.normal(size=(features, classes))).argmax(axis=1)
    return x, y


def fused(activation, seed=7):
    return fastmlp.Sequential(
        [Dense(16, activation=activation), Dense(4, activation="softmax")], input_dim=12, seed=seed
    )


def separate(activation, seed=7):
    return fastmlp.Sequential(
        [Dense(16), Activation(activation), Dense(4, activation="softmax")], input_dim=12, seed=seed
    )


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert [w.shape for w in wa] == [w.shape for w in wb]
    for i, (u, v) in enumerate(zip(wa, wb)):
        np.testing.assert_array_equal(u, v, err_msg=f"weight {i}")


def test_the_layer_describes_itself():
    layer = Activation("relu", name="act")
    assert layer.activation == "relu"
    assert layer.core_spec() == {"kind": "activation", "activation": "relu"}
    assert layer.output_width(37) == 37
    assert layer.get_config() == {"class_name": "Activation", "name": "act", "activation": "relu"}
    assert repr(layer) == "Activation('relu')"
    rebuilt = layers.from_config(layer.get_config())
    assert isinstance(rebuilt, Activation) and rebuilt.get_config() == layer.get_config()
    assert layers.LAYER_CLASSES["Activation"] is Activation
    assert Activation(None).activation == "linear"


@pytest.mark.parametrize("name", ["gelu", "Relu", "", "swish"])
def test_a_bad_activation_name_is_refused_naming_it(name):
    with pytest.raises(ValueError, match=f"unknown activation {name!r}"):
        Activation(name)


def test_a_non_string_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation"):
        Activation(3)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_predictions_match_the_dense_activation(activation):
    x, _ = problem()
    a, b = fused(activation), separate(activation)
    assert_same_weights(a, b)  # the Activation layer draws nothing from the seed
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("batch", [1, 5, 32])
def test_relu_trains_bit_identically_to_the_dense_activation(optimizer, batch):
    x, y = problem(n=4 * 32)
    a, b = fused("relu"), separate("relu")
    for model in (a, b):
        model.compile(optimizer=optim.get(optimizer), metrics=["accuracy"])
    for step in range(4):
        rows = slice(step * batch, (step + 1) * batch)
        assert a.train_on_batch(x[rows], y[rows]) == b.train_on_batch(x[rows], y[rows])
    assert_same_weights(a, b)
    assert not np.array_equal(a.get_weights()[0], fused("relu").get_weights()[0])  # it did train
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


def test_fit_trajectory_matches_the_dense_activation():
    x, y = problem(n=200)
    a, b = fused("relu"), separate("relu")
    histories = []
    for model in (a, b):
        model.compile(optimizer=optim.keras.Adam(learning_rate=0.01), metrics=["accuracy"])
        histories.append(model.fit(x, y, batch_size=16, epochs=3, verbose=0).history)
    for key in ("loss", "accuracy"):
        assert histories[0][key] == histories[1][key], key
    assert_same_weights(a, b)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "linear"])
def test_an_output_activation_trains_with_mse_bit_identically_to_the_dense_activation(activation):
    x, y = problem(n=96)
    targets = np.eye(4, dtype=np.float32)[y]
    inside = fastmlp.Sequential([Dense(16, activation="relu"), Dense(4, activation=activation)], input_dim=12, seed=3)
    after = fastmlp.Sequential([Dense(16, activation="relu"), Dense(4), Activation(activation)], input_dim=12, seed=3)
    histories = []
    for model in (inside, after):
        model.compile(optimizer="adam", loss="mse")
        histories.append(model.fit(x, targets, batch_size=8, epochs=2, verbose=0).history["loss"])
    assert histories[0] == histories[1]
    assert_same_weights(inside, after)


def test_a_softmax_activation_after_dense_trains_with_mse():
    x, y = problem(n=128)
    targets = np.eye(4, dtype=np.float32)[y]
    model = fastmlp.Sequential([Dense(16, activation="relu"), Dense(4), Activation("softmax")], input_dim=12, seed=1)
    model.compile(optimizer=optim.keras.Adam(learning_rate=0.02), loss="mse", metrics=["accuracy"])
    history = model.fit(x, targets, batch_size=16, epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    probabilities = model.predict(x)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities >= 0).all()


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_cross_entropy_needs_the_softmax_inside_the_dense_layer(loss):
    model = fastmlp.Sequential([Dense(4), Activation("softmax")], input_dim=12, seed=0)
    with pytest.raises(ValueError, match=r"needs a Dense softmax output layer.*Activation\('softmax'\)"):
        model.compile(loss=loss)
    # compiled before its layers were added: refused when it is built, by the same check
    model = fastmlp.Sequential(seed=0)
    model.compile(loss=loss)
    model.add(Dense(4))
    model.add(Activation("softmax"))
    x, y = problem()
    with pytest.raises(ValueError, match="needs a Dense softmax output layer"):
        model.fit(x, y if loss.startswith("sparse") else np.eye(4, dtype=np.float32)[y], verbose=0)
    assert not model.built


def test_summary_lists_the_layer():
    model = separate("tanh")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "activation (Activation)" in text and "(None, 16)" in text
    assert model.count_params() == 12 * 16 + 16 + 16 * 4 + 4
    assert model.output_dim == 4
    assert model.layers[1].weights == [] and model.layers[1].count_params == 0


def test_save_and_load_round_trip(tmp_path):
    x, y = problem()
    model = fastmlp.Sequential(
        [Dense(16), Activation("tanh", name="squash"), Dropout(0.25), Dense(4, activation="softmax")],
        input_dim=12,
        seed=5,
        name="act",
    )
    model.compile(optimizer=optim.keras.Adam(learning_rate=0.01), metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "model.fmlp"
    model.save(path)
    loaded = fastmlp.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [Dense, Activation, Dropout, Dense]
    assert loaded.layers[1].name == "squash" and loaded.layers[1].activation == "tanh"
    assert loaded.get_config() == model.get_config()
    assert_same_weights(model, loaded)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    # training resumes on the same trajectory
    for m in (model, loaded):
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_same_weights(model, loaded)


def test_an_unbuilt_model_round_trips(tmp_path):
    model = fastmlp.Sequential([Dense(8), Activation("sigmoid"), Dense(2, activation="softmax")], seed=2)
    path = tmp_path / "unbuilt.fmlp"
    model.save(path)
    loaded = fastmlp.load_model(path)
    assert not loaded.built
    assert loaded.get_config() == model.get_config()
    assert isinstance(loaded.layers[1], Activation) and loaded.layers[1].activation == "sigmoid"
