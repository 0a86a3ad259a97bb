"""``fastmlp._core.Network`` against a float64 NumPy reference of the same architecture.

The network's float32 parameters are copied out, a pure-NumPy float64
forward/backward (written here, never calling fastmlp) is run on them, and:

* ``predict()`` matches the reference forward: rtol 1e-5, atol 1e-6.
* After one ``train_step`` with SGD(lr):
  - ``grads`` match the reference gradient of the MEAN batch loss, taken at the
    parameters before the step: rtol 1e-4, atol 1e-6 * max|grad| (float32
    forward + backward vs float64);
  - ``params_after == params_before - lr * grads`` bit for bit in float32
    (either NumPy's two roundings or the single rounding of a fused multiply-add);
  - ``loss_sum / count`` matches the reference mean loss: rtol 1e-5.
* Three SGD steps follow the float64 reference trajectory: rtol 1e-4,
  atol 1e-6 on the parameters (observed error ~1e-3 of that).
* Initializers: bounds exactly, variances/std within 10% / 5% on 784x300 layers.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastmlp import _core

LR = 0.05
BATCH = 23  # odd, not a multiple of any SIMD width

# name, input_dim, units, activations, loss
ARCHITECTURES = [
    ("relu_tanh_softmax_sparse", 13, [17, 11, 5], ["relu", "tanh", "softmax"], "sparse_categorical_crossentropy"),
    (
        "sigmoid_linear_softmax_categorical",
        13,
        [17, 11, 5],
        ["sigmoid", "linear", "softmax"],
        "categorical_crossentropy",
    ),
    ("tanh_relu_linear_mse", 13, [17, 11, 5], ["tanh", "relu", "linear"], "mse"),
    ("relu_sigmoid_mse", 9, [15, 3], ["relu", "sigmoid"], "mse"),
    # softmax output with mse: not fused, so the network must backprop through softmax.
    ("linear_softmax_mse", 7, [6, 4], ["linear", "softmax"], "mse"),
    ("single_layer_softmax_sparse", 13, [5], ["softmax"], "sparse_categorical_crossentropy"),
]
ARCH_IDS = [arch[0] for arch in ARCHITECTURES]


# --------------------------------------------------------------------------------------
# Float64 NumPy reference
# --------------------------------------------------------------------------------------


def unflatten(flat, input_dim, units):
    """Splits the flat parameter vector: per layer W (in x out, row-major), then b."""
    layers, offset, fan_in = [], 0, input_dim
    for fan_out in units:
        W = flat[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
        offset += fan_in * fan_out
        b = flat[offset : offset + fan_out]
        offset += fan_out
        layers.append((W, b))
        fan_in = fan_out
    assert offset == flat.size
    return layers


def flatten(layer_values):
    return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in layer_values])


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def activate(name, z):
    return {
        "linear": lambda: z,
        "relu": lambda: np.maximum(z, 0.0),
        "sigmoid": lambda: 1.0 / (1.0 + np.exp(-z)),
        "tanh": lambda: np.tanh(z),
        "softmax": lambda: softmax(z),
    }[name]()


def activation_vjp(name, z, upstream):
    """dL/dz from dL/da, differentiating from the pre-activation z."""
    if name == "linear":
        return upstream
    if name == "relu":
        return upstream * (z > 0)
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return upstream * s * (1 - s)
    if name == "tanh":
        return upstream * (1 - np.tanh(z) ** 2)
    if name == "softmax":
        a = softmax(z)
        return a * (upstream - (a * upstream).sum(axis=1, keepdims=True))
    raise KeyError(name)


def reference_forward(layers, activations, x):
    """Returns the pre-activations and the activations (inputs first) of every layer."""
    pre, post = [], [x]
    for (W, b), name in zip(layers, activations):
        z = post[-1] @ W + b
        pre.append(z)
        post.append(activate(name, z))
    return pre, post


def reference_loss_and_output_grad(loss, activation, z, y):
    """Mean batch loss and its gradient w.r.t. the last pre-activation z."""
    n, k = z.shape
    if loss == "mse":
        p = activate(activation, z)
        mean_loss = np.mean(np.mean((p - y) ** 2, axis=1))
        return mean_loss, activation_vjp(activation, z, 2 * (p - y) / (n * k))
    # Cross-entropy on softmax(z), computed from logits with a stable log-sum-exp.
    targets = np.eye(k)[y] if loss == "sparse_categorical_crossentropy" else y
    m = z.max(axis=1, keepdims=True)
    log_softmax = z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))
    mean_loss = np.mean(-(targets * log_softmax).sum(axis=1))
    grad = softmax(z) * targets.sum(axis=1, keepdims=True) - targets
    return mean_loss, grad / n


def reference_step(flat, arch, x, y):
    """(mean loss, flat gradient, number of argmax hits) of one batch at params `flat`."""
    _, input_dim, units, activations, loss = arch
    layers = unflatten(flat, input_dim, units)
    pre, post = reference_forward(layers, activations, x)
    mean_loss, delta = reference_loss_and_output_grad(loss, activations[-1], pre[-1], y)
    grads = [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        W, _ = layers[l]
        grads[l] = (post[l].T @ delta, delta.sum(axis=0))
        if l > 0:
            delta = activation_vjp(activations[l - 1], pre[l - 1], delta @ W.T)
    true_class = y if y.ndim == 1 else np.argmax(y, axis=1)
    hits = int(np.sum(np.argmax(post[-1], axis=1) == true_class))
    return mean_loss, flatten(grads), hits


def reference_predict(flat, arch, x):
    _, input_dim, units, activations, _ = arch
    return reference_forward(unflatten(flat, input_dim, units), activations, x)[1][-1]


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


def build_network(arch, seed=1234, lr=LR):
    _, input_dim, units, activations, loss = arch
    # glorot_uniform and he_normal mixed so both code paths feed the comparisons.
    inits = ["he_normal" if i % 2 else "glorot_uniform" for i in range(len(units))]
    net = _core.Network(input_dim, units, activations, inits)
    net.initialize(seed)
    net.set_loss(loss)
    sgd = _core.KerasSGD()  # plain SGD: p <- p - lr * g
    sgd.learning_rate = lr
    net.set_optimizer(sgd)
    return net


def make_batch(arch, n, seed):
    _, input_dim, units, _, loss = arch
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, input_dim)).astype(np.float32)
    k = units[-1]
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, k, size=n).astype(np.int32)
    elif loss == "categorical_crossentropy":
        y = np.eye(k, dtype=np.float32)[rng.integers(0, k, size=n)]
    else:
        y = rng.normal(size=(n, k)).astype(np.float32)
    return x, y


def as64(y):
    return y if y.dtype == np.int32 else y.astype(np.float64)


# --------------------------------------------------------------------------------------
# Forward, one step, several steps
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=ARCH_IDS)
@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_predict_matches_reference_forward(arch, batch_size):
    net = build_network(arch)
    x, _ = make_batch(arch, 31, seed=5)
    out = net.predict(x, batch_size)
    assert out.dtype == np.float32 and out.shape == (31, arch[2][-1])
    expected = reference_predict(net.params.astype(np.float64), arch, x.astype(np.float64))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=ARCH_IDS)
def test_layer_views_match_the_flat_layout(arch):
    # The reference relies on this layout, so check it against the per-layer views.
    net = build_network(arch)
    _, input_dim, units, _, _ = arch
    flat = net.params.copy()
    for l, (W, b) in enumerate(unflatten(flat, input_dim, units)):
        W_view, b_view = net.layer_params(l)
        np.testing.assert_array_equal(W_view, W)
        np.testing.assert_array_equal(b_view, b)
    assert net.num_params == flat.size


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=ARCH_IDS)
def test_one_train_step_matches_reference(arch):
    net = build_network(arch)
    x, y = make_batch(arch, BATCH, seed=7)
    params_before = net.params.copy()  # .params is a live view: copy before stepping
    ref_loss, ref_grads, ref_hits = reference_step(
        params_before.astype(np.float64), arch, x.astype(np.float64), as64(y)
    )

    loss_sum, correct, count = net.train_step(x, y)

    assert count == BATCH
    assert loss_sum / count == pytest.approx(ref_loss, rel=1e-5)
    assert correct == ref_hits
    grads = net.grads.copy()
    np.testing.assert_allclose(grads, ref_grads, rtol=1e-4, atol=1e-6 * np.abs(ref_grads).max())
    for l, (gW, gb) in enumerate(unflatten(grads, arch[1], arch[2])):
        view_W, view_b = net.layer_grads(l)
        np.testing.assert_array_equal(view_W, gW)
        np.testing.assert_array_equal(view_b, gb)

    # SGD in float32, bit for bit: each parameter is either p - lr*g with two float32
    # roundings (NumPy's arithmetic) or one rounding of the exact value (a fused
    # multiply-add, which -march=native builds use). The float64 product of two
    # float32 numbers is exact, so the second is one float64 -> float32 rounding.
    lr32 = np.float32(LR)
    unfused = params_before - lr32 * grads
    fused = (params_before.astype(np.float64) - np.float64(lr32) * grads).astype(np.float32)
    params_after = net.params.copy()
    assert params_after.dtype == np.float32
    bad = (params_after != unfused) & (params_after != fused)
    assert not bad.any(), (
        f"{bad.sum()} parameters differ from p - lr*g: got {params_after[bad][:5]}, expected {unfused[bad][:5]}"
    )
    assert not np.array_equal(params_after, params_before)


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=ARCH_IDS)
def test_three_train_steps_follow_reference_trajectory(arch):
    net = build_network(arch)
    reference = net.params.astype(np.float64)
    for step in range(3):
        x, y = make_batch(arch, BATCH + step, seed=100 + step)  # a new batch (and size) each step
        ref_loss, ref_grads, _ = reference_step(reference, arch, x.astype(np.float64), as64(y))
        loss_sum, _, count = net.train_step(x, y)
        reference = reference - LR * ref_grads
        assert loss_sum / count == pytest.approx(ref_loss, rel=1e-4), f"step {step}"
        np.testing.assert_allclose(
            net.params, reference, rtol=1e-4, atol=1e-6, err_msg=f"parameters after step {step + 1}"
        )


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=ARCH_IDS)
def test_single_row_steps_follow_reference_trajectory(arch):
    # One row with plain SGD takes the update inside backward, storing no
    # gradient (fast/single_row_step.cpp): its own check against float64.
    net = build_network(arch)
    reference = net.params.astype(np.float64)
    for step in range(5):
        x, y = make_batch(arch, 1, seed=200 + step)
        ref_loss, ref_grads, _ = reference_step(reference, arch, x.astype(np.float64), as64(y))
        loss_sum, _, count = net.train_step(x, y)
        assert net.last_step == "single_row"
        reference = reference - LR * ref_grads
        assert loss_sum / count == pytest.approx(ref_loss, rel=1e-4), f"step {step}"
        np.testing.assert_allclose(
            net.params, reference, rtol=1e-4, atol=1e-6, err_msg=f"parameters after step {step + 1}"
        )
    # The gradients, formed when read, are the last step's.
    np.testing.assert_allclose(net.grads, ref_grads, rtol=1e-4, atol=1e-6 * np.abs(ref_grads).max())


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=ARCH_IDS)
@pytest.mark.parametrize("batch_size", [4, 100])
def test_evaluate_matches_reference_without_changing_params(arch, batch_size):
    net = build_network(arch)
    x, y = make_batch(arch, 29, seed=11)
    before = net.params.copy()
    ref_loss, _, ref_hits = reference_step(before.astype(np.float64), arch, x.astype(np.float64), as64(y))
    loss_sum, correct, count = net.evaluate(x, y, batch_size)
    assert count == 29
    assert loss_sum / count == pytest.approx(ref_loss, rel=1e-5)
    assert correct == ref_hits
    np.testing.assert_array_equal(net.params, before)


def test_grads_do_not_accumulate_across_steps():
    # Each step's grads are those of its own batch, not a running sum.
    arch = ARCHITECTURES[0]
    net = build_network(arch)
    x, y = make_batch(arch, BATCH, seed=7)
    net.train_step(x, y)
    params_mid = net.params.astype(np.float64)
    net.train_step(x, y)
    _, ref_grads, _ = reference_step(params_mid, arch, x.astype(np.float64), y)
    np.testing.assert_allclose(net.grads, ref_grads, rtol=1e-4, atol=1e-6 * np.abs(ref_grads).max())


def test_cross_entropy_requires_softmax_output():
    net = _core.Network(4, [3], ["sigmoid"])
    for loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        with pytest.raises(ValueError, match="softmax"):
            net.set_loss(loss)
    net.set_loss("mse")  # fine with any output


def test_train_step_rejects_bad_labels_and_shapes():
    arch = ARCHITECTURES[0]
    net = build_network(arch)
    x, y = make_batch(arch, 4, seed=0)
    with pytest.raises(ValueError, match="outside"):
        net.train_step(x, np.array([0, 1, 5, 2], np.int32))
    with pytest.raises(ValueError):
        net.train_step(x[:, :-1].copy(), y)
    with pytest.raises(TypeError):
        net.train_step(x.astype(np.float64), y)


# --------------------------------------------------------------------------------------
# Initializers
# --------------------------------------------------------------------------------------

TRUNCATED_NORMAL_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]
FAN_IN, FAN_OUT = 784, 300


def initialized_weights(name, seed=0, fan_in=FAN_IN, fan_out=FAN_OUT):
    net = _core.Network(fan_in, [fan_out, 10], ["relu", "softmax"], [name, "glorot_uniform"])
    net.params[:] = 7.0  # biases must be reset to zero by initialize, whatever they were
    net.initialize(seed)
    W, b = net.layer_params(0)
    return W.astype(np.float64), b.copy(), net


@pytest.mark.parametrize(
    "name,limit",
    [
        ("glorot_uniform", np.sqrt(6.0 / (FAN_IN + FAN_OUT))),
        ("he_uniform", np.sqrt(6.0 / FAN_IN)),
    ],
)
def test_uniform_initializers_bounds_and_variance(name, limit):
    W, b, _ = initialized_weights(name)
    assert np.abs(W).max() <= np.float32(limit)
    # A 784x300 sample fills the interval: its extremes come within 1% of the limit.
    assert np.abs(W).max() > 0.99 * limit
    assert W.var() == pytest.approx(limit**2 / 3, rel=0.10)
    assert abs(W.mean()) < 0.01 * limit
    np.testing.assert_array_equal(b, 0.0)


@pytest.mark.parametrize(
    "name,std",
    [
        ("glorot_normal", np.sqrt(2.0 / (FAN_IN + FAN_OUT))),
        ("he_normal", np.sqrt(2.0 / FAN_IN)),
    ],
)
def test_truncated_normal_initializers_bounds_and_std(name, std):
    W, b, _ = initialized_weights(name)
    bound = 2 * std / TRUNCATED_NORMAL_STD  # 2 stddevs of the underlying (untruncated) normal
    assert np.abs(W).max() <= np.float32(bound) * (1 + 1e-6)
    assert np.abs(W).max() > 0.99 * bound  # it is truncated, not clipped far below
    assert W.std() == pytest.approx(std, rel=0.05)
    assert abs(W.mean()) < 0.01 * std
    # Truncated, not clipped: no pile-up of values at the bound.
    assert np.mean(np.abs(W) > 0.999 * bound) < 1e-3
    np.testing.assert_array_equal(b, 0.0)


def test_zeros_initializer():
    W, b, _ = initialized_weights("zeros")
    np.testing.assert_array_equal(W, 0.0)
    np.testing.assert_array_equal(b, 0.0)


def test_all_biases_are_zero_after_initialize():
    _, _, net = initialized_weights("he_normal")
    for l in range(net.num_layers):
        np.testing.assert_array_equal(net.layer_params(l)[1], 0.0)


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"])
def test_same_seed_same_params_different_seed_different(name):
    W1, _, net1 = initialized_weights(name, seed=42, fan_in=13, fan_out=17)
    W2, _, net2 = initialized_weights(name, seed=42, fan_in=13, fan_out=17)
    W3, _, net3 = initialized_weights(name, seed=43, fan_in=13, fan_out=17)
    np.testing.assert_array_equal(net1.params, net2.params)
    assert not np.array_equal(W1, W3)
    # Different seeds should give essentially unrelated weights, not a shifted copy.
    assert np.mean(W1 == W3) < 0.01


def test_layers_draw_different_weights():
    # Two identical layers from one seed must not repeat the same sequence.
    net = _core.Network(20, [20, 20], ["relu", "relu"])
    net.initialize(3)
    assert not np.array_equal(net.layer_params(0)[0], net.layer_params(1)[0])


def test_unknown_initializer_and_activation_raise_value_error():
    with pytest.raises(ValueError, match="initializer"):
        _core.Network(4, [3], ["relu"], ["glorot_magic"])
    with pytest.raises(ValueError, match="activation"):
        _core.Network(4, [3], ["swish"])
    with pytest.raises(ValueError, match="one kernel initializer per layer"):
        _core.Network(4, [3], ["relu"], ["glorot_uniform", "glorot_uniform"])
