#include "gemm.hpp"

namespace fastmlp {
namespace {

using Stride = Eigen::OuterStride<>;
using ConstStridedView = Eigen::Map<const RowMatrix<float>, 0, Stride>;
using StridedView = Eigen::Map<RowMatrix<float>, 0, Stride>;

template <typename LHS, typename RHS>
void assign_product(StridedView& c, const LHS& a, const RHS& b, bool accumulate) {
  if (accumulate)
    c.noalias() += a * b;
  else
    c.noalias() = a * b;
}

}  // namespace

void sgemm_eigen(Op op_a, Op op_b, Index M, Index N, Index K, const float* A, Index lda,
                 const float* B, Index ldb, float* C, Index ldc, bool accumulate) {
  StridedView c(C, M, N, Stride(ldc));
  const bool ta = op_a == Op::Transpose, tb = op_b == Op::Transpose;
  ConstStridedView a(A, ta ? K : M, ta ? M : K, Stride(lda));
  ConstStridedView b(B, tb ? N : K, tb ? K : N, Stride(ldb));
  if (!ta && !tb) assign_product(c, a, b, accumulate);
  if (!ta && tb) assign_product(c, a, b.transpose(), accumulate);
  if (ta && !tb) assign_product(c, a.transpose(), b, accumulate);
  if (ta && tb) assign_product(c, a.transpose(), b.transpose(), accumulate);
}

#ifndef __AVX512F__
void sgemm(Op op_a, Op op_b, Index M, Index N, Index K, const float* A, Index lda, const float* B,
           Index ldb, float* C, Index ldc, bool accumulate) {
  sgemm_eigen(op_a, op_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}
const char* sgemm_kernel_name() { return "eigen"; }
#endif

}  // namespace fastmlp
