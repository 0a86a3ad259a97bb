#include "kernels/sparse_input.hpp"

#include <algorithm>

#include "kernels/gemm.hpp"
#include "runtime/parallel.hpp"

namespace fastmlp {

bool SparseInputProducts::index_chunk(const float* x, Index rows, Index in) {
  indexed_ = nullptr;
  if (!(max_density > 0)) return false;
  const Index max_nonzeros = Index(max_density * double(rows * in));
  // From the size where the mini-batch gather takes the threads (train_epoch).
  const int threads = rows * in >= kParallelMinElements / 2 ? num_threads() : 1;
  if (!csr_from_dense(x, rows, in, max_nonzeros, threads, rows_)) return false;
  indexed_ = x;
  indexed_rows_ = rows;
  return true;
}

bool SparseInputProducts::takes_sparse_product(const float* x, Index rows, Index in) const {
  if (!(max_density > 0) || rows > kChunkRows) return false;
  Index nonzeros = 0;
  for (Index r = 0; r < rows; ++r) nonzeros += count_nonzeros(x + r * in, in);
  return nonzeros <= Index(max_density * double(rows * in));
}

void SparseInputProducts::forward(const float* x, const float* W, float* y, Index n, Index in, Index out) {
  last_sparse_rows_ = 0;
  for (Index r0 = 0; r0 < n; r0 += kChunkRows) {
    const Index rows = std::min(kChunkRows, n - r0);
    const float* xc = x + r0 * in;
    float* yc = y + r0 * out;
    if (index_chunk(xc, rows, in)) {
      sparse_dense_matmul(rows_, W, out, out, yc, out, /*accumulate=*/false);
      last_sparse_rows_ += rows;
    } else {
      gemm(Op::None, Op::None, rows, out, in, xc, in, W, out, yc, out, /*accumulate=*/false);
    }
  }
}

void SparseInputProducts::backward(const float* x, const float* dy, float* dW, Index n, Index in, Index out) {
  if (Index(maybe_nonzero_.size()) != in) maybe_nonzero_.assign(in, 1);
  // Chunks in row order, each adding to the last: every dW element is one
  // chain over the rows in order, as in a single dense product.
  for (Index r0 = 0; r0 < n; r0 += kChunkRows) {
    const Index rows = std::min(kChunkRows, n - r0);
    const float* xc = x + r0 * in;
    const bool accumulate = r0 > 0;
    const bool indexed = (indexed_ == xc && indexed_rows_ == rows) || index_chunk(xc, rows, in);
    if (indexed) {
      csr_transpose(rows_, columns_);
      sparse_dense_matmul(columns_, dy + r0 * out, out, out, dW, out, accumulate, maybe_nonzero_.data());
      for (Index k = 0; k < in; ++k) {
        const std::uint8_t written = columns_.start[k + 1] > columns_.start[k];
        maybe_nonzero_[k] = accumulate ? std::uint8_t(maybe_nonzero_[k] | written) : written;
      }
    } else {
      gemm(Op::Transpose, Op::None, in, out, rows, xc, in, dy + r0 * out, out, dW, out, accumulate);
      std::fill(maybe_nonzero_.begin(), maybe_nonzero_.end(), std::uint8_t(1));
    }
  }
  indexed_ = nullptr;
}

}  // namespace fastmlp
