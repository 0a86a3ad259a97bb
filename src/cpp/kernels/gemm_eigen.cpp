// sgemm on builds without AVX-512: Eigen's product.
#ifndef __AVX512F__
#include "kernels/gemm.hpp"

namespace fastmlp {

void sgemm(Op op_a, Op op_b, Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb, float* C,
           Index ldc, bool accumulate) {
  gemm_eigen(op_a, op_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

const char* sgemm_kernel_name() { return "eigen"; }

}  // namespace fastmlp
#endif  // __AVX512F__
