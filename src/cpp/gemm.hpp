// Row-major float32 matrix product, the training step's hot spot.
//   C (M, N) = op(A) (M, K) . op(B) (K, N), or C += ... when `accumulate`
//   op(A): A stored (M, K) with row stride lda, or A^T with A stored (K, M)
//   op(B): B stored (K, N) with row stride ldb, or B^T with B stored (N, K)
// On AVX-512 builds this is fastmlp's own kernel (gemm_avx512.cpp); elsewhere
// Eigen's product. Either way each C element is one fixed-order sum over k,
// so results do not depend on the thread count or the buffers' alignment.
#pragma once
#include "matrix.hpp"

namespace fastmlp {

enum class Op { None, Transpose };

void sgemm(Op op_a, Op op_b, Index M, Index N, Index K, const float* A, Index lda, const float* B,
           Index ldb, float* C, Index ldc, bool accumulate);

// Eigen's product for the same arguments: the fallback, and the ceiling the
// benchmark compares against.
void sgemm_eigen(Op op_a, Op op_b, Index M, Index N, Index K, const float* A, Index lda,
                 const float* B, Index ldb, float* C, Index ldc, bool accumulate);

// Which implementation sgemm is: "avx512" or "eigen".
const char* sgemm_kernel_name();

}  // namespace fastmlp
