// Dense layer y = x W + b.
//   forward:  x (N, in), W (in, out), b (out) -> y (N, out)
//   backward: dy (N, out) -> dW (in, out), db (out), dx (N, in)
// backward writes dW and db, or adds to them when `accumulate` is set; dx is
// always overwritten and skipped when null (the first layer needs none).
#pragma once
#include <algorithm>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "kernels/gemm.hpp"
#include "runtime/matrix.hpp"

namespace fastmlp {

// y = x W (N, out), the bias not yet added.
template <typename T>
void dense_forward_matmul(const T* x, const T* W, T* y, Index N, Index in, Index out) {
  gemm(Op::None, Op::None, N, out, in, x, in, W, out, y, out, /*accumulate=*/false);
}

// y (N, out) += b (out) on every row.
template <typename T>
void add_bias(T* y, const T* b, Index N, Index out) {
  MatrixView<T>(y, N, out).rowwise() += ConstRowVectorView<T>(b, out);
}

template <typename T>
void dense_forward(const T* x, const T* W, const T* b, T* y, Index N, Index in, Index out) {
  dense_forward_matmul(x, W, y, N, in, out);
  add_bias(y, b, N, out);
}

// dW = x^T dy (or +=), and dx = dy W^T when dx is not null.
template <typename T>
void dense_backward_matmul(const T* x, const T* W, const T* dy, T* dx, T* dW, Index N, Index in, Index out,
                           bool accumulate) {
  gemm(Op::Transpose, Op::None, in, out, N, x, in, dy, out, dW, out, accumulate);
  if (dx) gemm(Op::None, Op::Transpose, N, in, out, dy, out, W, out, dx, in, /*accumulate=*/false);
}

// db = column sums of dy (or +=). Row by row, so the inner loop runs along
// contiguous memory (Eigen's colwise() on a row-major matrix walked columns).
template <typename T>
void bias_backward(const T* dy, T* db, Index N, Index out, bool accumulate) {
  if (!accumulate) std::fill(db, db + out, T(0));
  for (Index i = 0; i < N; ++i) {
    const T* row = dy + i * out;
#pragma omp simd
    for (Index j = 0; j < out; ++j) db[j] += row[j];
  }
}

// The gradient of a single row (N = 1), dW = x^T dy and db = dy, for the flat
// positions [begin, end) of the layer's (in + 1, out) block of parameters
// (the kernel, then the bias as a row whose input is 1), written to
// g[0, end - begin). Each value is one multiply-add onto +0, as the products
// backward uses form it (so x[k] = 0 gives +0, not -0). With `zero_rows`, a
// kernel row with x[k] = 0 is +0 whatever dy holds, as the sparse product
// leaves it.
inline void single_row_gradient(const float* x, const float* dy, Index in, Index out, Index begin, Index end,
                                bool zero_rows, float* g) {
  for (Index k = begin / out, at = begin; at < end; ++k) {
    const Index j0 = at - k * out, j1 = std::min(out, end - k * out);
    const float xk = k < in ? x[k] : 1.0f;
    float* gk = g + (at - begin) - j0;  // gk[j] is (k, j)'s gradient
    const bool zero = zero_rows && xk == 0.0f && k < in;
#ifdef __AVX512F__
    // Masked tails rather than a scalar loop per row: the rows of a later
    // layer are short (100 values in the references' model), and this runs
    // once per row per step at batch 1.
    const __m512 xv = _mm512_set1_ps(xk), zeros = _mm512_setzero_ps();
    Index j = j0;
    for (; j + 16 <= j1; j += 16)
      _mm512_storeu_ps(gk + j, zero ? zeros : _mm512_fmadd_ps(xv, _mm512_loadu_ps(dy + j), zeros));
    if (j < j1) {
      const __mmask16 tail = __mmask16((1u << (j1 - j)) - 1);
      _mm512_mask_storeu_ps(gk + j, tail,
                            zero ? zeros : _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(tail, dy + j), zeros));
    }
#else
    if (zero) {
      std::fill(gk + j0, gk + j1, 0.0f);
    } else {
#pragma omp simd
      for (Index j = j0; j < j1; ++j) {
#ifdef __FMA__
        gk[j] = __builtin_fmaf(xk, dy[j], 0.0f);
#else
        gk[j] = 0.0f + xk * dy[j];
#endif
      }
    }
#endif
    at = k * out + j1;
  }
}

// One row (N = 1) under an elementwise update rule that maps a zero gradient
// to no change (plain SGD): dW = x^T dy is an outer product, so each kernel
// value is updated as its gradient x[k] dy[j] is formed and no dW is stored.
// Rows with x[k] == 0 (zero inputs, ReLU's zeros) have a zero gradient and
// are skipped. db = 0 + dy, summed as bias_backward sums it.
//   x (in), dy (out); W (in, out) and b (out) updated in place
template <class Rule>
void dense_rank_one_update(const float* x, const float* dy, float* W, float* b, Index in, Index out, const Rule& rule) {
  // The rows visited are scattered over W (which may not fit in L2): while
  // one row is updated, the next one's cache lines are requested.
  auto next_nonzero = [&](Index k) {
    while (k < in && x[k] == 0) ++k;
    return k;
  };
  for (Index k = next_nonzero(0); k < in;) {
    const Index next = next_nonzero(k + 1);
    if (next < in)
      for (Index j = 0; j < out; j += 16) __builtin_prefetch(W + next * out + j, 1);
    const float xk = x[k];
    float* row = W + k * out;
#pragma omp simd
    for (Index j = 0; j < out; ++j) row[j] = rule.apply(row[j], xk * dy[j]);
    k = next;
  }
#pragma omp simd
  for (Index j = 0; j < out; ++j) b[j] = rule.apply(b[j], 0.0f + dy[j]);
}

template <typename T>
void dense_backward(const T* x, const T* W, const T* dy, T* dx, T* dW, T* db, Index N, Index in, Index out,
                    bool accumulate) {
  dense_backward_matmul(x, W, dy, dx, dW, N, in, out, accumulate);
  bias_backward(dy, db, N, out, accumulate);
}

}  // namespace fastmlp
