// Row-major matrix product, the training step's hot spot.
//   C (M, N) = op(A) (M, K) . op(B) (K, N), or C += ... when `accumulate`
//   op(A): A stored (M, K) with row stride lda, or A^T with A stored (K, M)
//   op(B): B stored (K, N) with row stride ldb, or B^T with B stored (N, K)
// float32 goes through sgemm: fastmlp's own kernel on AVX-512 builds
// (gemm_avx512.cpp), Eigen's product elsewhere. Either way each C element is
// a sum over k in an order fixed by the shapes alone, so results do not depend
// on the thread count or the buffers' alignment. float64 (the tests'
// references) uses Eigen.
#pragma once
#include <type_traits>

#include "runtime/matrix.hpp"

namespace fastmlp {

enum class Op { None, Transpose };

void sgemm(Op op_a, Op op_b, Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb, float* C,
           Index ldc, bool accumulate);

// Which implementation sgemm is: "avx512" or "eigen".
const char* sgemm_kernel_name();

// Eigen's product for the same arguments: float64's product, sgemm's
// fallback, and the ceiling the benchmark compares against.
template <typename T>
void gemm_eigen(Op op_a, Op op_b, Index M, Index N, Index K, const T* A, Index lda, const T* B, Index ldb, T* C,
                Index ldc, bool accumulate) {
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<RowMatrix<T>, 0, Stride> c(C, M, N, Stride(ldc));
  const bool ta = op_a == Op::Transpose, tb = op_b == Op::Transpose;
  Eigen::Map<const RowMatrix<T>, 0, Stride> a(A, ta ? K : M, ta ? M : K, Stride(lda));
  Eigen::Map<const RowMatrix<T>, 0, Stride> b(B, tb ? N : K, tb ? K : N, Stride(ldb));
  auto assign = [&](const auto& lhs, const auto& rhs) {
    if (accumulate)
      c.noalias() += lhs * rhs;
    else
      c.noalias() = lhs * rhs;
  };
  if (!ta && !tb) assign(a, b);
  if (!ta && tb) assign(a, b.transpose());
  if (ta && !tb) assign(a.transpose(), b);
  if (ta && tb) assign(a.transpose(), b.transpose());
}

template <typename T>
void gemm(Op op_a, Op op_b, Index M, Index N, Index K, const T* A, Index lda, const T* B, Index ldb, T* C, Index ldc,
          bool accumulate) {
  if constexpr (std::is_same_v<T, float>)
    sgemm(op_a, op_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
  else
    gemm_eigen(op_a, op_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

}  // namespace fastmlp
