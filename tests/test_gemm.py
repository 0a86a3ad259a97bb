"""fastmlp's float32 matrix product (_core.matmul, the training step's
products) against a float64 NumPy reference, for every transpose, edge
shapes around its 8-row x 48-column tiles, accumulation, thread counts and
buffer alignment. Tolerance: float32 sums of K products of standard normals
have error ~ K * 2^-24 * sqrt(K) in the worst case; 1e-6 * K * (|a||b| scale)
bounds it with room, while a wrong element (a missed k or a wrong column)
is off by O(1)."""

import numpy as np
import pytest

import fastmlp
from fastmlp import _core

pytestmark = pytest.mark.instrumented  # _core.matmul is a bench binding

SHAPES = [
    (1, 1, 1),
    (3, 5, 7),
    (8, 48, 16),
    (9, 49, 17),
    (7, 47, 3),
    (32, 300, 784),
    (17, 100, 300),
    (784, 300, 32),
    (1, 300, 784),
    (64, 10, 100),
    (5, 130, 0),
    (1, 300, 100),
    (2, 33, 270),
    (1, 33, 17),
    (1, 700, 129),
]


def operands(M, N, K, ta, tb, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    return a, b


def reference(a, b, ta, tb):
    return (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("product", ["matmul", "eigen_matmul"])
def test_product_matches_float64(product, shape, ta, tb):
    M, N, K = shape
    a, b = operands(M, N, K, ta, tb)
    out = np.full((M, N), np.nan, np.float32)
    getattr(_core, product)(a, b, out, ta, tb)
    tol = 1e-6 * max(K, 1) * 4
    np.testing.assert_allclose(out, reference(a, b, ta, tb), rtol=0, atol=tol)
    c = np.random.default_rng(1).standard_normal((M, N)).astype(np.float32)
    acc = c.copy()
    getattr(_core, product)(a, b, acc, ta, tb, accumulate=True)
    np.testing.assert_allclose(acc, reference(a, b, ta, tb) + c, rtol=0, atol=tol + 1e-6)


@pytest.mark.skipif(fastmlp.build_info()["gemm"] != "avx512", reason="Eigen's product may order B^T's sums differently")
@pytest.mark.parametrize("shape", [(2, 300, 100), (32, 100, 300), (9, 49, 17), (3, 47, 270), (4, 16, 16)])
def test_transposed_b_gives_the_bits_of_its_transposed_copy(shape):
    # B^T is packed (16x16 register transposes) before the same kernel runs,
    # so only data movement differs: any misplaced element changes the bits.
    # (A single row takes dot products instead: summed in another order.)
    M, N, K = shape
    a, b = operands(M, N, K, False, True)
    packed, plain = np.empty((M, N), np.float32), np.empty((M, N), np.float32)
    _core.matmul(a, b, packed, False, True)
    _core.matmul(a, np.ascontiguousarray(b.T), plain, False, False)
    np.testing.assert_array_equal(packed, plain)


@pytest.mark.skipif(fastmlp.build_info()["gemm"] != "avx512", reason="Eigen's product is not fastmlp's")
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("N, K", [(100, 300), (300, 784), (700, 129), (17, 5), (321, 40)])
def test_a_single_row_gives_the_bits_of_the_tiled_product(N, K, accumulate, ta, threads):
    # One row takes its own kernel (up to 20 column vectors at once, split
    # into even chunks); each column's multiply-adds run in the same order of
    # k as in the tiles, so the row has the bits it has inside a 2-row product.
    fastmlp.set_num_threads(threads)
    try:
        a, b = operands(2, N, K, ta, False, seed=4)
        c = np.random.default_rng(5).standard_normal((2, N)).astype(np.float32)
        both = c.copy()
        _core.matmul(a, b, both, ta, False, accumulate=accumulate)
        row = c[:1].copy()
        _core.matmul(np.ascontiguousarray(a[:, :1] if ta else a[:1]), b, row, ta, False, accumulate=accumulate)
        np.testing.assert_array_equal(row[0].view(np.uint32), both[0].view(np.uint32))
    finally:
        fastmlp.set_num_threads(2)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("shape", [(37, 301, 129), (1, 700, 129)])  # one row: dot products with B^T
def test_same_bits_on_one_and_two_threads_and_any_alignment(ta, tb, shape):
    M, N, K = shape
    a, b = operands(M, N, K, ta, tb, seed=3)
    results = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        try:
            for offset in (0, 1, 3):  # floats past a 64-byte boundary
                buf = np.empty(a.size + 16, np.float32)
                start = (-buf.ctypes.data // 4) % 16 + offset
                a_shifted = buf[start : start + a.size].reshape(a.shape)
                a_shifted[...] = a
                out = np.empty((M, N), np.float32)
                _core.matmul(a_shifted, b, out, ta, tb)
                results.append(out)
        finally:
            fastmlp.set_num_threads(2)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_shape_mismatch_and_wrong_dtype_are_clear_errors():
    a = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="shapes do not match"):
        _core.matmul(a, np.zeros((5, 2), np.float32), np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="float32"):
        _core.matmul(a.astype(np.float64), np.zeros((4, 2), np.float32), np.zeros((3, 2), np.float32))


def test_build_names_its_product():
    info = fastmlp.build_info()
    assert info["gemm"] in ("avx512", "eigen")
    if "AVX512" in info["simd"].upper() and info["arch"] != "portable":
        assert info["gemm"] == "avx512"


def test_memory_ceiling_pass_moves_adams_bytes():
    n = 1000
    rng = np.random.default_rng(0)
    p, g, m, v = (rng.standard_normal(n).astype(np.float32) for _ in range(4))
    p0, m0, v0 = p.copy(), m.copy(), v.copy()
    _core.stream_adam_shaped(p, g, m, v)
    np.testing.assert_array_equal(m, m0 + g)
    np.testing.assert_array_equal(v, v0 - g)
    np.testing.assert_array_equal(p, p0 + (m0 + g) * (v0 - g))
