// Dense layer y = x W + b.
//   forward:  x (N, in), W (in, out), b (out) -> y (N, out)
//   backward: dy (N, out) -> dW (in, out), db (out), dx (N, in)
// backward writes dW and db, or adds to them when `accumulate` is set; dx is
// always overwritten and skipped when null (the first layer needs none).
#pragma once
#include "matrix.hpp"

namespace fastmlp {

template <typename T>
void dense_forward(const T* x, const T* W, const T* b, T* y, Index N, Index in, Index out) {
  MatrixView<T> Y(y, N, out);
  Y.noalias() = ConstMatrixView<T>(x, N, in) * ConstMatrixView<T>(W, in, out);
  Y.rowwise() += ConstRowVectorView<T>(b, out);
}

template <typename T>
void dense_backward(const T* x, const T* W, const T* dy, T* dx, T* dW, T* db, Index N, Index in,
                    Index out, bool accumulate) {
  ConstMatrixView<T> X(x, N, in), DY(dy, N, out);
  MatrixView<T> DW(dW, in, out);
  RowVectorView<T> DB(db, out);
  if (accumulate) {
    DW.noalias() += X.transpose() * DY;
    DB += DY.colwise().sum();
  } else {
    DW.noalias() = X.transpose() * DY;
    DB = DY.colwise().sum();
  }
  if (dx) MatrixView<T>(dx, N, in).noalias() = DY * ConstMatrixView<T>(W, in, out).transpose();
}

}  // namespace fastmlp
