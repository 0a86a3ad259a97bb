// Dense layer y = x W + b.
//   forward:  x (N, in), W (in, out), b (out) -> y (N, out)
//   backward: dy (N, out) -> dW (in, out), db (out), dx (N, in)
// backward writes dW and db, or adds to them when `accumulate` is set; dx is
// always overwritten and skipped when null (the first layer needs none).
#pragma once
#include <algorithm>

#include "gemm.hpp"
#include "matrix.hpp"

namespace fastmlp {

// float32 products go through sgemm (fastmlp's kernel where the build has
// one); float64, used by the tests' references, through Eigen.

// y = x W (N, out), the bias not yet added.
template <typename T>
void dense_forward_matmul(const T* x, const T* W, T* y, Index N, Index in, Index out) {
  if constexpr (std::is_same_v<T, float>)
    sgemm(Op::None, Op::None, N, out, in, x, in, W, out, y, out, /*accumulate=*/false);
  else
    MatrixView<T>(y, N, out).noalias() = ConstMatrixView<T>(x, N, in) * ConstMatrixView<T>(W, in, out);
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
void dense_backward_matmul(const T* x, const T* W, const T* dy, T* dx, T* dW, Index N, Index in,
                           Index out, bool accumulate) {
  if constexpr (std::is_same_v<T, float>) {
    sgemm(Op::Transpose, Op::None, in, out, N, x, in, dy, out, dW, out, accumulate);
    if (dx) sgemm(Op::None, Op::Transpose, N, in, out, dy, out, W, out, dx, in, /*accumulate=*/false);
  } else {
    ConstMatrixView<T> X(x, N, in), DY(dy, N, out);
    MatrixView<T> DW(dW, in, out);
    if (accumulate)
      DW.noalias() += X.transpose() * DY;
    else
      DW.noalias() = X.transpose() * DY;
    if (dx) MatrixView<T>(dx, N, in).noalias() = DY * ConstMatrixView<T>(W, in, out).transpose();
  }
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

template <typename T>
void dense_backward(const T* x, const T* W, const T* dy, T* dx, T* dW, T* db, Index N, Index in,
                    Index out, bool accumulate) {
  dense_backward_matmul(x, W, dy, dx, dW, N, in, out, accumulate);
  bias_backward(dy, db, N, out, accumulate);
}

}  // namespace fastmlp
