"""BatchNormalization, Dropout and kernel regularizers: kernels against
float64 finite differences and NumPy references, the network's training
step against a NumPy reference, and the layers' training/inference modes."""

import numpy as np
import pytest

import fastmlp
from conftest import central_difference
from fastmlp import _core
from fastmlp.layers import BatchNormalization, Dense, Dropout, Flatten
from fastmlp.regularizers import L1, L1L2, L2

K = _core.kernels
RNG = np.random.default_rng(1234)


def batchnorm_reference(x, gamma, beta, eps):
    mean = x.mean(axis=0)
    var = x.var(axis=0)  # biased, as Keras
    x_hat = (x - mean) / np.sqrt(var + eps)
    return gamma * x_hat + beta, x_hat, mean, var


@pytest.mark.parametrize("shape", [(7, 5), (32, 13), (2, 3)])
def test_batchnorm_forward_matches_numpy(shape):
    x = RNG.normal(size=shape) * 3 + 1
    gamma, beta = RNG.normal(size=shape[1]), RNG.normal(size=shape[1])
    y, x_hat, mean, var, inv_std = K.batchnorm_forward_train(x, gamma, beta, 1e-3)
    ref_y, ref_hat, ref_mean, ref_var = batchnorm_reference(x, gamma, beta, 1e-3)
    np.testing.assert_allclose(y, ref_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x_hat, ref_hat, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-12)
    np.testing.assert_allclose(var, ref_var, rtol=1e-12)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(ref_var + 1e-3), rtol=1e-12)
    # float32 as the network runs it
    y32 = K.batchnorm_forward_train(x.astype(np.float32), gamma.astype(np.float32), beta.astype(np.float32), 1e-3)[0]
    np.testing.assert_allclose(y32, ref_y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(7, 5), (4, 3)])
def test_batchnorm_backward_matches_finite_differences(shape):
    x = RNG.normal(size=shape) * 2
    gamma, beta = RNG.normal(size=shape[1]), RNG.normal(size=shape[1])
    weights = RNG.normal(size=shape)  # L = sum(y * weights)

    def loss():
        return float(np.sum(K.batchnorm_forward_train(x, gamma, beta, 1e-3)[0] * weights))

    _, x_hat, _, _, inv_std = K.batchnorm_forward_train(x, gamma, beta, 1e-3)
    dx, dgamma, dbeta = K.batchnorm_backward(weights, x_hat, gamma, inv_std)
    np.testing.assert_allclose(dx, central_difference(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dgamma, central_difference(loss, gamma), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dbeta, central_difference(loss, beta), rtol=1e-6, atol=1e-8)


def reference_002_like(seed=0, l2=1e-3, dropout=0.0):
    return fastmlp.Sequential(
        [
            Flatten(),
            Dense(9, activation="relu", kernel_regularizer=L2(l2)),
            BatchNormalization(),
            Dense(6, activation="tanh"),
            Dropout(dropout),
            Dense(4, activation="softmax"),
        ],
        input_shape=(2, 3),
        seed=seed,
    )


def numpy_loss_and_grads(weights, x, y, l2):
    """float64 forward/backward of reference_002_like (dropout 0) in training mode."""
    W1, b1, gamma, beta, _, _, W2, b2, W3, b3 = [w.astype(np.float64) for w in weights]
    n = len(x)
    z1 = x @ W1 + b1
    a1 = np.maximum(z1, 0)
    bn, x_hat, mean, var = batchnorm_reference(a1, gamma, beta, 1e-3)
    z2 = bn @ W2 + b2
    a2 = np.tanh(z2)
    z3 = a2 @ W3 + b3
    p = np.exp(z3 - z3.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y])) + l2 * np.sum(W1**2)
    dz3 = p.copy()
    dz3[np.arange(n), y] -= 1
    dz3 /= n
    dW3, db3 = a2.T @ dz3, dz3.sum(0)
    dz2 = (dz3 @ W3.T) * (1 - a2**2)
    dW2, db2 = bn.T @ dz2, dz2.sum(0)
    dbn = dz2 @ W2.T
    dgamma, dbeta = (dbn * x_hat).sum(0), dbn.sum(0)
    inv_std = 1 / np.sqrt(var + 1e-3)
    da1 = gamma * inv_std / n * (n * dbn - dbeta - x_hat * dgamma)
    dz1 = da1 * (z1 > 0)
    dW1, db1 = x.T @ dz1 + 2 * l2 * W1, dz1.sum(0)
    return loss, [dW1, db1, dgamma, dbeta, dW2, db2, dW3, db3], (mean, var)


def test_training_step_with_batchnorm_and_l2_matches_numpy():
    model = reference_002_like(l2=1e-2)
    model.compile(optimizer=fastmlp.optim.keras.SGD(learning_rate=0.1), metrics=["accuracy"])
    x = RNG.normal(size=(16, 2, 3)).astype(np.float32)
    y = RNG.integers(0, 4, size=16)
    before = model.get_weights()
    loss, grads, (mean, var) = numpy_loss_and_grads(before, x.reshape(16, 6).astype(np.float64), y, 1e-2)
    reported_loss, _ = model.train_on_batch(x, y)
    assert reported_loss == pytest.approx(loss, rel=1e-5)  # includes the L2 penalty, as Keras reports
    core_grads = [g for i in range(5) for g in model._network.layer_grads(i)]
    for got, want in zip(core_grads, grads):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-6)
    # moving statistics: moving = moving * 0.99 + batch * 0.01, from 0 and 1
    bn = model.layers[2]
    np.testing.assert_allclose(bn.weights[2], 0.01 * mean, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(bn.weights[3], 0.99 + 0.01 * var, rtol=1e-5)


def test_batchnorm_uses_moving_statistics_at_inference():
    model = fastmlp.Sequential(
        [BatchNormalization(momentum=0.5, epsilon=1e-3), Dense(3, activation="linear")], input_dim=4, seed=0
    )
    model.compile(optimizer="sgd", loss="mse")
    gamma, beta, moving_mean, moving_var = model.layers[0].weights
    gamma[:] = [1, 2, 3, 4]
    beta[:] = [0, 1, 0, 1]
    moving_mean[:] = [1, 1, 1, 1]
    moving_var[:] = [4, 4, 4, 4]
    x = RNG.normal(size=(5, 4)).astype(np.float32)
    W, b = model.layers[1].weights
    expected = (gamma * (x - 1) / np.sqrt(4 + 1e-3) + beta) @ W + b
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)


def test_dropout_in_training_and_inference():
    # Dropout(rate) into a linear unit with kernel 1: at inference the output is
    # the plain sum; in a training step the kernel's mse gradient is
    # 2 * pred * (masked, scaled input), which shows the mask itself.
    rate = 0.25
    model = fastmlp.Sequential([Dropout(rate), Dense(1, activation="linear")], input_dim=4000, seed=3)
    model.compile(optimizer=fastmlp.optim.keras.SGD(learning_rate=1e-9), loss="mse")
    model.layers[1].kernel[:] = 1.0
    x = np.ones((1, 4000), np.float32)
    np.testing.assert_allclose(model.predict(x), [[4000.0]])  # inference: identity
    model.train_on_batch(x, np.zeros((1, 1), np.float32))
    grad = model._network.layer_grads(1)[0][:, 0]
    kept = grad != 0
    assert 0.72 < kept.mean() < 0.78  # about 1 - rate kept
    scale = 1 / (1 - rate)
    prediction = kept.sum() * scale  # the training-mode output
    np.testing.assert_allclose(grad[kept], 2 * prediction * scale, rtol=1e-4)


def test_dropout_training_is_reproducible_and_seeded():
    x = RNG.normal(size=(64, 6)).astype(np.float32)
    y = RNG.integers(0, 4, size=64)

    def train(seed):
        model = reference_002_like(seed=seed, dropout=0.5)
        model.compile(optimizer=fastmlp.optim.keras.SGD(learning_rate=0.1, momentum=0.9))
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return model.weights.copy()

    assert np.array_equal(train(1), train(1))
    assert not np.array_equal(train(1), train(2))


@pytest.mark.parametrize(
    "regularizer,penalty",
    [
        (L2(0.01), lambda w: 0.01 * np.sum(w**2)),
        (L1(0.02), lambda w: 0.02 * np.sum(np.abs(w))),
        (L1L2(0.01, 0.03), lambda w: 0.01 * np.sum(np.abs(w)) + 0.03 * np.sum(w**2)),
    ],
)
def test_regularizers_add_their_penalty_and_gradient(regularizer, penalty):
    x = RNG.normal(size=(10, 5)).astype(np.float32)
    y = RNG.normal(size=(10, 2)).astype(np.float32)
    plain = fastmlp.Sequential([Dense(2)], input_dim=5, seed=4)
    reg = fastmlp.Sequential([Dense(2, kernel_regularizer=regularizer)], input_dim=5, seed=4)
    for m in (plain, reg):
        m.compile(optimizer=fastmlp.optim.keras.SGD(learning_rate=0.1), loss="mse")
    W = reg.layers[0].kernel.astype(np.float64).copy()
    assert regularizer(W) == pytest.approx(penalty(W))
    loss_plain = plain.evaluate(x, y)[0]
    loss_reg = reg.evaluate(x, y)[0]
    assert loss_reg - loss_plain == pytest.approx(penalty(W), rel=1e-5)
    plain.train_on_batch(x, y)
    reg.train_on_batch(x, y)
    extra = reg._network.layer_grads(0)[0] - plain._network.layer_grads(0)[0]
    expected = 2 * regularizer.l2 * W + regularizer.l1 * np.sign(W)
    np.testing.assert_allclose(extra, expected, rtol=1e-4, atol=1e-6)


def test_layer_arguments_accept_numpy_scalars():
    assert Dropout(np.float32(0.25)).rate == 0.25
    assert BatchNormalization(momentum=np.float64(0.9), epsilon=np.float32(0.5)).epsilon == 0.5


def test_layer_arguments_are_validated():
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match="l2"):
        L2(-1)
    with pytest.raises(TypeError, match="kernel_regularizer"):
        Dense(3, kernel_regularizer=0.1)


def test_summary_and_weights_of_reference_002s_model():
    model = fastmlp.Sequential(
        [
            Flatten(),
            Dense(300, activation="relu", kernel_regularizer=L2(1e-4)),
            BatchNormalization(),
            Dense(100, activation="relu"),
            Dropout(0.2),
            Dense(10, activation="softmax"),
        ],
        input_shape=(28, 28),
        seed=0,
    )
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for expected in (
        "batch_normalization (BatchNormalization)",
        "1,200",
        "dropout (Dropout)",
        "Total params: 267,810",
        "Trainable params: 267,210",
        "Non-trainable params: 600",
    ):
        assert expected in text
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(784, 300), (300,), (300,), (300,), (300,), (300,), (300, 100), (100,), (100, 10), (10,)]
    gamma, beta, mean, var = model.layers[2].weights
    assert np.all(gamma == 1) and np.all(beta == 0) and np.all(mean == 0) and np.all(var == 1)


def test_reference_002_model_reaches_978_validation_accuracy(mnist):
    # Reference 002: Dense 300 relu + L2 1e-4, BatchNormalization, Dense 100 relu,
    # Dropout 0.2, Dense 10 softmax; Keras SGD 0.01 momentum 0.9; batch 32; 5
    # epochs. It reports 0.9828 (one run). Measured here over seeds 0-2: final
    # validation accuracy 0.9800, 0.9788, 0.9760; seed 0 on 2 threads is pinned.
    (x_train, y_train), _ = mnist
    fastmlp.set_num_threads(2)
    model = fastmlp.Sequential(
        [
            Dense(300, activation="relu", kernel_regularizer=L2(1e-4)),
            BatchNormalization(),
            Dense(100, activation="relu"),
            Dropout(0.2),
            Dense(10, activation="softmax"),
        ],
        input_shape=(28, 28),
        seed=0,
    )
    model.compile(optimizer=fastmlp.optim.keras.SGD(learning_rate=0.01, momentum=0.9), metrics=["accuracy"])
    history = model.fit(
        x_train[5000:],
        y_train[5000:],
        validation_data=(x_train[:5000], y_train[:5000]),
        batch_size=32,
        epochs=5,
        verbose=0,
    )
    assert history.history["val_accuracy"][-1] >= 0.978
