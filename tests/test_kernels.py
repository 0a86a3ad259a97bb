"""Every kernel of ``fastmlp._core.kernels`` against an independent NumPy reference.

Micrograd-style: each forward value and each gradient is compared with a small
float64 NumPy implementation written here from the documented formulas (the
reference never calls fastmlp), and every gradient is also checked against
central finite differences of the kernel's own forward pass.

Tolerances
----------
* float64 forward values vs the float64 reference: rtol 1e-12 (atol 1e-12 for
  values that may cancel to ~0, e.g. dense outputs and gradients).
* float32 forward values vs the float64 reference evaluated on the same float32
  inputs: rtol 1e-5, atol 1e-5 times the typical magnitude of the output
  (float32 has ~6e-8 relative precision; sums of up to ~200 terms lose a little).
* Finite differences (float64, central, h = 1e-6): rtol 1e-6, atol 1e-8.
  The truncation error is O(h^2) ~ 1e-12 and the roundoff eps*|L|/h ~ 1e-9.
* Huge logits (|z| = 1e4 in both dtypes, 80 in float32): finite outputs and
  the stable reference at rtol 1e-12 (float64) / 1e-6 (float32).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from conftest import central_difference
from fastmlp import _core
from fastmlp._core import kernels as K

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax"]
FLOAT_DTYPES = [np.float64, np.float32]

# (N, in, out): odd sizes so no kernel can rely on even/SIMD-width shapes, plus larger ones.
DENSE_SHAPES = [(7, 13, 5), (1, 1, 1), (3, 2, 9), (64, 33, 17), (129, 100, 31)]
# (N, K) for the activations and losses.
ROW_SHAPES = [(7, 5), (1, 1), (1, 7), (9, 2), (33, 17), (128, 10)]

FD_RTOL, FD_ATOL = 1e-6, 1e-8
F64_RTOL, F64_ATOL = 1e-12, 1e-12
F32_RTOL = 1e-5


def rng_for(*key) -> np.random.Generator:
    """A generator seeded from the test's parameters, so every case is reproducible."""
    # crc32, not hash(): str hashes are salted per process, which would change the data.
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# --------------------------------------------------------------------------------------
# Independent float64 NumPy reference (formulas from the spec, no fastmlp calls).
# --------------------------------------------------------------------------------------


def ref_dense_forward(x, W, b):
    return x @ W + b


def ref_dense_backward(x, W, dy):
    return dy @ W.T, x.T @ dy, dy.sum(axis=0)


def ref_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def ref_logsumexp(z):
    m = z.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]


def ref_sigmoid(z):
    # Stable in both tails: exp of a non-positive number only.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def ref_activation_forward(name, z):
    if name == "linear":
        return z.copy()
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return ref_sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        return ref_softmax(z)
    raise KeyError(name)


def ref_activation_backward_from_z(name, z, da):
    """dL/dz from the PRE-activation z (the kernel uses the output a instead)."""
    if name == "linear":
        return da.copy()
    if name == "relu":
        return np.where(z > 0, da, 0.0)
    if name == "sigmoid":
        s = ref_sigmoid(z)
        return da * s * (1 - s)
    if name == "tanh":
        return da * (1 - np.tanh(z) ** 2)
    if name == "softmax":
        # Full Jacobian per row: J = diag(a) - a a^T, dz = J^T da (J is symmetric).
        a = ref_softmax(z)
        out = np.empty_like(z)
        for r in range(z.shape[0]):
            jac = np.diag(a[r]) - np.outer(a[r], a[r])
            out[r] = jac @ da[r]
        return out
    raise KeyError(name)


def ref_first_argmax(rows):
    # np.argmax returns the first maximum, which is the documented tie rule.
    return np.argmax(rows, axis=1)


def ref_sparse_ce(z, y):
    n = z.shape[0]
    losses = ref_logsumexp(z) - z[np.arange(n), y]
    onehot = np.zeros_like(z)
    onehot[np.arange(n), y] = 1.0
    grad = (ref_softmax(z) - onehot) / n
    hits = int(np.sum(ref_first_argmax(z) == y))
    return losses.mean(), grad, hits


def ref_dense_ce(z, t):
    n = z.shape[0]
    log_softmax = z - ref_logsumexp(z)[:, None]
    losses = -(t * log_softmax).sum(axis=1)
    # d/dz of -sum_k t_k log_softmax_k = softmax * sum_k t_k - t (targets need not sum to 1).
    grad = (ref_softmax(z) * t.sum(axis=1, keepdims=True) - t) / n
    hits = int(np.sum(ref_first_argmax(z) == ref_first_argmax(t)))
    return losses.mean(), grad, hits


def ref_mse(p, t):
    n, k = p.shape
    losses = ((p - t) ** 2).mean(axis=1)
    grad = 2.0 * (p - t) / (n * k)
    hits = int(np.sum(ref_first_argmax(p) == ref_first_argmax(t)))
    return losses.mean(), grad, hits


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def fd_indices(size, rng, limit=60):
    """All indices of a small array, a random sample of a large one (keeps the file fast)."""
    if size <= limit:
        return None
    return rng.choice(size, size=limit, replace=False)


def assert_fd_close(numeric, analytic, what):
    mask = ~np.isnan(numeric)
    np.testing.assert_allclose(
        numeric[mask],
        analytic[mask],
        rtol=FD_RTOL,
        atol=FD_ATOL,
        err_msg=f"finite differences disagree with the analytic {what}",
    )


def random_logits(rng, n, k, scale=3.0):
    return rng.normal(0.0, scale, size=(n, k))


def random_probability_rows(rng, n, k):
    t = rng.random((n, k)) + 1e-3
    return t / t.sum(axis=1, keepdims=True)


def away_from_zero(z, margin=1e-3):
    """Moves entries off the kink of relu so finite differences never straddle it."""
    z = z.copy()
    close = np.abs(z) < margin
    z[close] = np.where(z[close] >= 0, margin, -margin)
    return z


def f32_atol(reference):
    return F32_RTOL * max(1.0, float(np.max(np.abs(reference))))


# --------------------------------------------------------------------------------------
# Dense layer
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", DENSE_SHAPES)
def test_dense_forward_float64_matches_reference(shape):
    n, fan_in, fan_out = shape
    rng = rng_for("dense_fwd64", shape)
    x, W, b = rng.normal(size=(n, fan_in)), rng.normal(size=(fan_in, fan_out)), rng.normal(size=fan_out)
    y = K.dense_forward(x, W, b)
    assert y.dtype == np.float64 and y.shape == (n, fan_out)
    # Matrix products may sum in a different order: allow rounding relative to |x||W|.
    scale = np.abs(x) @ np.abs(W) + np.abs(b)
    np.testing.assert_allclose(y, ref_dense_forward(x, W, b), rtol=F64_RTOL, atol=1e-14 * scale.max())


@pytest.mark.parametrize("shape", DENSE_SHAPES)
def test_dense_forward_float32_matches_reference(shape):
    n, fan_in, fan_out = shape
    rng = rng_for("dense_fwd32", shape)
    x = rng.normal(size=(n, fan_in)).astype(np.float32)
    W = rng.normal(size=(fan_in, fan_out)).astype(np.float32)
    b = rng.normal(size=fan_out).astype(np.float32)
    y = K.dense_forward(x, W, b)
    assert y.dtype == np.float32 and y.shape == (n, fan_out)
    expected = ref_dense_forward(x.astype(np.float64), W.astype(np.float64), b.astype(np.float64))
    # Cancellation makes relative error meaningless near 0: atol scales with sum |x_i W_ij|.
    scale = (np.abs(x) @ np.abs(W)).astype(np.float64).max()
    np.testing.assert_allclose(y, expected, rtol=F32_RTOL, atol=F32_RTOL * scale)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", DENSE_SHAPES)
def test_dense_backward_matches_reference(shape, dtype):
    n, fan_in, fan_out = shape
    rng = rng_for("dense_bwd", shape, dtype)
    x = rng.normal(size=(n, fan_in)).astype(dtype)
    W = rng.normal(size=(fan_in, fan_out)).astype(dtype)
    dy = rng.normal(size=(n, fan_out)).astype(dtype)
    dx, dW, db = K.dense_backward(x, W, dy)
    assert (dx.shape, dW.shape, db.shape) == ((n, fan_in), (fan_in, fan_out), (fan_out,))
    assert dx.dtype == dW.dtype == db.dtype == dtype
    exp_dx, exp_dW, exp_db = ref_dense_backward(*(a.astype(np.float64) for a in (x, W, dy)))
    rtol = F64_RTOL if dtype == np.float64 else F32_RTOL
    for got, exp, what in ((dx, exp_dx, "dx"), (dW, exp_dW, "dW"), (db, exp_db, "db")):
        # Rounding of a sum of n (or out) products: bounded by rtol * (typical term * count).
        atol = rtol * max(1.0, np.abs(exp).max()) * (1 if dtype == np.float64 else 3)
        np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("shape", [(7, 13, 5), (4, 1, 3), (33, 65, 31)])
def test_dense_gradients_by_finite_differences(shape):
    """L = sum(dense_forward(x, W, b) * R): its gradients are dense_backward(x, W, R)."""
    n, fan_in, fan_out = shape
    rng = rng_for("dense_fd", shape)
    x, W, b = rng.normal(size=(n, fan_in)), rng.normal(size=(fan_in, fan_out)), rng.normal(size=fan_out)
    R = rng.normal(size=(n, fan_out))

    def loss():
        return float(np.sum(K.dense_forward(x, W, b) * R))

    dx, dW, db = K.dense_backward(x, W, R)
    assert_fd_close(central_difference(loss, x, indices=fd_indices(x.size, rng)), dx, "dx")
    assert_fd_close(central_difference(loss, W, indices=fd_indices(W.size, rng)), dW, "dW")
    assert_fd_close(central_difference(loss, b, indices=fd_indices(b.size, rng)), db, "db")


# --------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward_float64_matches_reference(name, shape):
    z = random_logits(rng_for("act_fwd64", name, shape), *shape)
    a = K.activation_forward(name, z)
    assert a.dtype == np.float64 and a.shape == shape
    np.testing.assert_allclose(a, ref_activation_forward(name, z), rtol=F64_RTOL, atol=F64_ATOL)


@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward_float32_matches_reference(name, shape):
    z = random_logits(rng_for("act_fwd32", name, shape), *shape).astype(np.float32)
    a = K.activation_forward(name, z)
    assert a.dtype == np.float32 and a.shape == shape
    expected = ref_activation_forward(name, z.astype(np.float64))
    # Outputs are O(1) (or |z| for linear/relu): atol 1e-6 covers outputs that round near 0.
    np.testing.assert_allclose(a, expected, rtol=F32_RTOL, atol=1e-6)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_reference(name, shape, dtype):
    """The kernel gets the forward OUTPUT a; the reference differentiates from z."""
    rng = rng_for("act_bwd", name, shape, dtype)
    z = away_from_zero(random_logits(rng, *shape)).astype(dtype)
    da = rng.normal(size=shape).astype(dtype)
    a = K.activation_forward(name, z)
    dz = K.activation_backward(name, a, da)
    assert dz.dtype == dtype and dz.shape == shape
    expected = ref_activation_backward_from_z(name, z.astype(np.float64), da.astype(np.float64))
    if dtype == np.float64:
        np.testing.assert_allclose(dz, expected, rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_allclose(dz, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("shape", [(7, 5), (1, 1), (3, 13), (20, 33)])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradient_by_finite_differences(name, shape):
    """L = sum(activation(z) * R): checks the elementwise derivatives and softmax's JVP."""
    rng = rng_for("act_fd", name, shape)
    z = away_from_zero(random_logits(rng, *shape, scale=2.0))
    R = rng.normal(size=shape)

    def loss():
        return float(np.sum(K.activation_forward(name, z) * R))

    dz = K.activation_backward(name, K.activation_forward(name, z), R)
    numeric = central_difference(loss, z, indices=fd_indices(z.size, rng))
    assert_fd_close(numeric, dz, f"{name} gradient")


def test_softmax_backward_is_not_the_elementwise_derivative():
    # Guards the softmax JVP: a kernel that used a*(1-a)*da (diagonal only) would pass
    # for K=1 but not here, where the off-diagonal -a_i a_j terms matter.
    z = np.array([[0.0, 1.0, 2.0]])
    da = np.array([[1.0, 0.0, 0.0]])
    a = ref_softmax(z)
    dz = K.activation_backward("softmax", K.activation_forward("softmax", z), da)
    np.testing.assert_allclose(dz, a * (da - (a * da).sum()), rtol=1e-12)
    assert dz[0, 1] < 0 and dz[0, 2] < 0


def test_softmax_rows_sum_to_one():
    z = random_logits(np.random.default_rng(0), 11, 7)
    np.testing.assert_allclose(K.activation_forward("softmax", z).sum(axis=1), 1.0, rtol=1e-14)


def test_relu_gradient_at_exactly_zero_is_zero():
    z = np.array([[-1.0, 0.0, 1.0, -0.0]])
    a = K.activation_forward("relu", z)
    np.testing.assert_array_equal(a, [[0.0, 0.0, 1.0, 0.0]])
    dz = K.activation_backward("relu", a, np.full_like(z, 5.0))
    np.testing.assert_array_equal(dz, [[0.0, 0.0, 5.0, 0.0]])
    dz32 = K.activation_backward("relu", a.astype(np.float32), np.full((1, 4), 5.0, np.float32))
    np.testing.assert_array_equal(dz32, [[0.0, 0.0, 5.0, 0.0]])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_sigmoid_is_finite_for_huge_inputs(dtype):
    z = np.array([[-1000.0, 1000.0, -100.0, 100.0, 0.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise"):  # the reference must not overflow either
        expected = ref_sigmoid(z.astype(np.float64))
    a = K.activation_forward("sigmoid", z)
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a[0, :2], [0.0, 1.0])
    np.testing.assert_allclose(a, expected, rtol=1e-6, atol=1e-30)
    dz = K.activation_backward("sigmoid", a, np.ones_like(a))
    assert np.all(np.isfinite(dz))
    np.testing.assert_allclose(dz[0, :2], 0.0, atol=0)
    np.testing.assert_allclose(dz[0, 4], 0.25, rtol=1e-7)


@pytest.mark.parametrize("dtype,big", [(np.float64, 1e4), (np.float32, 1e4), (np.float32, 80.0), (np.float64, 800.0)])
def test_softmax_is_stable_for_huge_logits(dtype, big):
    z = np.array([[big, -big, 0.0, big / 2], [-big, -big, -big, -big + 1], [big, big, -big, big]], dtype=dtype)
    a = K.activation_forward("softmax", z)
    assert np.all(np.isfinite(a))
    expected = ref_softmax(z.astype(np.float64))
    np.testing.assert_allclose(a, expected, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-30)
    dz = K.activation_backward("softmax", a, np.arange(12, dtype=dtype).reshape(3, 4))
    assert np.all(np.isfinite(dz))


# --------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------


def sparse_case(rng, n, k, dtype):
    z = random_logits(rng, n, k).astype(dtype)
    y = rng.integers(0, k, size=n).astype(np.int32)
    return z, y


def dense_ce_case(rng, n, k, dtype):
    return random_logits(rng, n, k).astype(dtype), random_probability_rows(rng, n, k).astype(dtype)


def mse_case(rng, n, k, dtype):
    return rng.normal(size=(n, k)).astype(dtype), rng.normal(size=(n, k)).astype(dtype)


LOSSES = {
    # name: (kernel, reference, case factory)
    "sparse_ce": (K.softmax_sparse_crossentropy, ref_sparse_ce, sparse_case),
    "dense_ce": (K.softmax_crossentropy, ref_dense_ce, dense_ce_case),
    "mse": (K.mean_squared_error, ref_mse, mse_case),
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_loss_value_gradient_and_hits_match_reference(loss_name, shape, dtype):
    kernel, reference, make_case = LOSSES[loss_name]
    inputs, targets = make_case(rng_for("loss", loss_name, shape, dtype), *shape, dtype)
    loss, grad, hits = kernel(inputs, targets)
    ref_targets = targets if targets.dtype == np.int32 else targets.astype(np.float64)
    exp_loss, exp_grad, exp_hits = reference(inputs.astype(np.float64), ref_targets)
    assert isinstance(loss, float)
    assert grad.dtype == dtype and grad.shape == shape
    assert hits == exp_hits
    if dtype == np.float64:
        np.testing.assert_allclose(loss, exp_loss, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad, exp_grad, rtol=1e-10, atol=1e-15)
    else:
        np.testing.assert_allclose(loss, exp_loss, rtol=F32_RTOL, atol=1e-6)
        np.testing.assert_allclose(grad, exp_grad, rtol=1e-4, atol=1e-6 * np.abs(exp_grad).max())


@pytest.mark.parametrize("shape", [(7, 5), (1, 1), (1, 6), (4, 2), (16, 33)])
@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_loss_gradient_by_finite_differences(loss_name, shape):
    """The returned grad is d(mean loss)/d(input) of the kernel's own loss value."""
    kernel, _, make_case = LOSSES[loss_name]
    rng = rng_for("loss_fd", loss_name, shape)
    inputs, targets = make_case(rng, *shape, np.float64)

    def loss():
        return kernel(inputs, targets)[0]

    _, grad, _ = kernel(inputs, targets)
    numeric = central_difference(loss, inputs, indices=fd_indices(inputs.size, rng))
    assert_fd_close(numeric, grad, f"{loss_name} gradient")


def test_dense_ce_gradient_with_unnormalised_targets():
    # Targets that do not sum to 1 (label smoothing gone wrong, or weights): the
    # gradient is softmax * sum(t) - t, not softmax - t.
    rng = np.random.default_rng(3)
    z, t = random_logits(rng, 5, 4), rng.random((5, 4)) * 2

    def loss():
        return K.softmax_crossentropy(z, t)[0]

    value, grad, _ = K.softmax_crossentropy(z, t)
    np.testing.assert_allclose(value, ref_dense_ce(z, t)[0], rtol=1e-12)
    assert_fd_close(central_difference(loss, z), grad, "unnormalised-target gradient")


@pytest.mark.parametrize("dtype,big", [(np.float64, 1e4), (np.float32, 1e4), (np.float32, 80.0)])
def test_cross_entropies_are_stable_for_huge_logits(dtype, big):
    z = np.array([[big, -big, 0.0], [-big, big, -big], [-big, -big, -big], [big, big, -big]], dtype=dtype)
    labels = np.array([1, 1, 2, 2], dtype=np.int32)  # includes the worst case: loss = 2*big
    targets = np.eye(3, dtype=dtype)[labels]
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-6, atol=1e-6)
    for kernel, ref, y in (
        (K.softmax_sparse_crossentropy, ref_sparse_ce, labels),
        (K.softmax_crossentropy, ref_dense_ce, targets),
    ):
        loss, grad, hits = kernel(z, y)
        exp_loss, exp_grad, exp_hits = ref(z.astype(np.float64), y if y.dtype == np.int32 else y.astype(np.float64))
        assert np.isfinite(loss) and np.all(np.isfinite(grad)), kernel.__name__
        np.testing.assert_allclose(loss, exp_loss, **tol, err_msg=kernel.__name__)
        np.testing.assert_allclose(grad, exp_grad, **tol, err_msg=kernel.__name__)
        assert hits == exp_hits


def test_sparse_ce_hits_use_the_first_maximum_on_ties():
    z = np.array(
        [
            [1.0, 3.0, 3.0, 0.0],  # tie between 1 and 2: argmax is 1
            [1.0, 3.0, 3.0, 0.0],
            [2.0, 2.0, 2.0, 2.0],  # all tied: argmax is 0
            [2.0, 2.0, 2.0, 2.0],
        ]
    )
    for dtype in FLOAT_DTYPES:
        _, _, hits = K.softmax_sparse_crossentropy(z.astype(dtype), np.array([1, 2, 0, 3], np.int32))
        assert hits == 2, dtype
        _, _, hits = K.softmax_sparse_crossentropy(z.astype(dtype), np.array([2, 2, 3, 3], np.int32))
        assert hits == 0, dtype


def test_dense_ce_and_mse_hits_use_the_first_maximum_on_ties():
    z = np.array([[2.0, 2.0, 0.0], [0.0, 5.0, 5.0], [1.0, 0.0, 0.0]])
    # Row 0: argmax z = 0 (tie), argmax t = 0 -> hit. Row 1: argmax z = 1, t = 2 -> miss.
    # Row 2: argmax z = 0, t ties between 0 and 1 -> first is 0 -> hit.
    t = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    for dtype in FLOAT_DTYPES:
        assert K.softmax_crossentropy(z.astype(dtype), t.astype(dtype))[2] == 2, dtype
        assert K.mean_squared_error(z.astype(dtype), t.astype(dtype))[2] == 2, dtype


def test_mse_uses_the_mean_over_outputs_then_over_rows():
    # Keras's reduction: one row [0, 0] vs [1, 3] has loss (1 + 9) / 2 = 5.
    p = np.zeros((2, 2))
    t = np.array([[1.0, 3.0], [0.0, 2.0]])
    loss, grad, _ = K.mean_squared_error(p, t)
    assert loss == pytest.approx((5.0 + 2.0) / 2, rel=1e-15)
    np.testing.assert_allclose(grad, 2 * (p - t) / 4, rtol=1e-15)


# --------------------------------------------------------------------------------------
# The OpenMP path (> 32768 elements)
# --------------------------------------------------------------------------------------


@pytest.fixture
def several_threads():
    """Run with at least 2 threads so the parallel branch really splits the loop."""
    before = _core.get_num_threads()
    _core.set_num_threads(max(2, before))
    yield
    _core.set_num_threads(before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_parallel_path_matches_reference_and_serial_chunks(name, dtype, several_threads):
    shape = (300, 200)  # 60000 elements: above the 32768 threshold
    rng = rng_for("parallel", name, dtype)
    z = away_from_zero(random_logits(rng, *shape)).astype(dtype)
    da = rng.normal(size=shape).astype(dtype)
    a = K.activation_forward(name, z)
    dz = K.activation_backward(name, a, da)

    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a, ref_activation_forward(name, z.astype(np.float64)), **tol)
    np.testing.assert_allclose(
        dz, ref_activation_backward_from_z(name, z.astype(np.float64), da.astype(np.float64)), **tol
    )

    # Chunks of 100 rows (20000 elements) take the serial branch: every element is
    # computed by the same formula, so the results must agree exactly.
    chunks = [slice(i, i + 100) for i in range(0, shape[0], 100)]
    a_serial = np.concatenate([K.activation_forward(name, np.ascontiguousarray(z[c])) for c in chunks])
    dz_serial = np.concatenate(
        [K.activation_backward(name, np.ascontiguousarray(a[c]), np.ascontiguousarray(da[c])) for c in chunks]
    )
    np.testing.assert_array_equal(a, a_serial)
    np.testing.assert_array_equal(dz, dz_serial)


# --------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------


def float_arrays(dtype=np.float64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(7, 13)).astype(dtype), rng.normal(size=(13, 5)).astype(dtype)


@pytest.mark.parametrize(
    "call",
    [
        lambda: K.dense_forward(np.ones((3, 4), np.int64), np.ones((4, 2), np.int64), np.ones(2, np.int64)),
        lambda: K.dense_backward(np.ones((3, 4), np.int32), np.ones((4, 2), np.int32), np.ones((3, 2), np.int32)),
        lambda: K.activation_forward("relu", np.ones((3, 4), np.int64)),
        lambda: K.activation_backward("tanh", np.ones((3, 4), np.int64), np.ones((3, 4), np.int64)),
        lambda: K.softmax_sparse_crossentropy(np.ones((3, 4), np.int64), np.zeros(3, np.int32)),
        lambda: K.softmax_crossentropy(np.ones((3, 4), np.int64), np.ones((3, 4), np.int64)),
        lambda: K.mean_squared_error(np.ones((3, 4), np.int64), np.ones((3, 4), np.int64)),
    ],
    ids=[
        "dense_forward",
        "dense_backward",
        "activation_forward",
        "activation_backward",
        "sparse_ce",
        "dense_ce",
        "mse",
    ],
)
def test_integer_arrays_raise_type_error(call):
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize(
    "call",
    [
        # The dtype of the first array decides; the others must match it exactly.
        lambda: K.dense_forward(np.ones((3, 4)), np.ones((4, 2), np.float32), np.ones(2)),
        lambda: K.dense_forward(np.ones((3, 4), np.float32), np.ones((4, 2)), np.ones(2, np.float32)),
        lambda: K.activation_backward("tanh", np.ones((3, 4)), np.ones((3, 4), np.float32)),
        lambda: K.softmax_sparse_crossentropy(np.ones((3, 4)), np.zeros(3, np.int64)),
        lambda: K.mean_squared_error(np.ones((3, 4), np.float32), np.ones((3, 4))),
        lambda: K.activation_forward("relu", [[1.0, 2.0]]),  # a list, not an array
    ],
    ids=["f64_with_f32_W", "f32_with_f64_W", "act_bwd_mixed", "int64_labels", "mse_mixed", "list"],
)
def test_mixed_dtypes_raise_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_non_contiguous_arrays_raise_value_error():
    z = np.ones((4, 6))[:, ::2]
    with pytest.raises(ValueError, match="contiguous"):
        K.activation_forward("relu", z)
    with pytest.raises(ValueError, match="contiguous"):
        K.dense_forward(np.ones((3, 4)), np.ones((2, 4)).T, np.ones(2))


def test_wrong_number_of_dimensions_raises_value_error():
    with pytest.raises(ValueError):
        K.activation_forward("relu", np.ones(5))
    with pytest.raises(ValueError):
        K.dense_forward(np.ones((3, 4)), np.ones((4, 2)), np.ones((1, 2)))


def shape_text(shape):
    return str(tuple(shape))  # "(7, 13)" / "(5,)", NumPy's spelling


@pytest.mark.parametrize(
    "case",
    [
        (
            "dense_forward x/W",
            lambda: K.dense_forward(np.ones((7, 13)), np.ones((12, 5)), np.ones(5)),
            [(7, 13), (12, 5)],
        ),
        ("dense_forward W/b", lambda: K.dense_forward(np.ones((7, 13)), np.ones((13, 5)), np.ones(4)), [(13, 5), (4,)]),
        # dy's counterpart may be spelled as the expected (N, out) or as x's and W's shapes.
        (
            "dense_backward dy",
            lambda: K.dense_backward(np.ones((7, 13)), np.ones((13, 5)), np.ones((7, 4))),
            [(7, 4), [(7, 5), (7, 13)]],
        ),
        (
            "dense_backward x/W",
            lambda: K.dense_backward(np.ones((7, 13)), np.ones((12, 5)), np.ones((7, 5))),
            [(7, 13), (12, 5)],
        ),
        (
            "activation_backward",
            lambda: K.activation_backward("relu", np.ones((7, 5)), np.ones((5, 7))),
            [(7, 5), (5, 7)],
        ),
        ("sparse_ce", lambda: K.softmax_sparse_crossentropy(np.ones((7, 5)), np.zeros(6, np.int32)), [(7, 5), (6,)]),
        ("dense_ce", lambda: K.softmax_crossentropy(np.ones((7, 5)), np.ones((7, 4))), [(7, 5), (7, 4)]),
        ("mse", lambda: K.mean_squared_error(np.ones((7, 5)), np.ones((6, 5))), [(7, 5), (6, 5)]),
    ],
    ids=lambda case: case[0],
)
def test_mismatched_shapes_raise_value_error_naming_both_shapes(case):
    _, call, shapes = case
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    for shape in shapes:
        alternatives = shape if isinstance(shape, list) else [shape]
        assert any(shape_text(s) in message for s in alternatives), (
            f"none of {[shape_text(s) for s in alternatives]} in {message!r}"
        )


@pytest.mark.parametrize("labels", [[0, 1, 5], [0, -1, 2], [2147483647, 0, 0]])
def test_labels_out_of_range_raise_value_error(labels):
    z = np.zeros((3, 5))
    with pytest.raises(ValueError, match="outside"):
        K.softmax_sparse_crossentropy(z, np.array(labels, np.int32))


def test_empty_batch_raises_value_error():
    with pytest.raises(ValueError):
        K.softmax_sparse_crossentropy(np.zeros((0, 3)), np.zeros(0, np.int32))
    with pytest.raises(ValueError):
        K.mean_squared_error(np.zeros((0, 3)), np.zeros((0, 3)))


@pytest.mark.parametrize("name", ["Relu", "softplus", "gelu", "soft_max"])
def test_unknown_activation_raises_value_error(name):
    with pytest.raises(ValueError, match="unknown activation"):
        K.activation_forward(name, np.ones((2, 3)))
    with pytest.raises(ValueError, match="unknown activation"):
        K.activation_backward(name, np.ones((2, 3)), np.ones((2, 3)))
