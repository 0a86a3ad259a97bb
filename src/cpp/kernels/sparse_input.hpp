// The first Dense layer's two products through its input's nonzeros (see
// sparse.hpp), chunk by chunk of rows so the index buffers stay small on any
// batch; a chunk denser than `max_density` goes through the dense product.
// On AVX-512 builds both paths give the same bits.
//   forward:  y (N, out) = x (N, in) W (in, out)
//   backward: dW (in, out) = x^T dy (N, out), for the x of the last forward
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/sparse.hpp"

namespace fastmlp {

class SparseInputProducts {
 public:
  // Nonzeros per input value above which a chunk takes the dense product;
  // 0 turns the sparse path off. Measured crossover: see bench/README.md.
  static constexpr double kDefaultMaxDensity = 0.3;
  double max_density = kDefaultMaxDensity;

  void forward(const float* x, const float* W, float* y, Index n, Index in, Index out);
  void backward(const float* x, const float* dy, float* dW, Index n, Index in, Index out);

  // Whether forward(x, ...) on these rows takes the sparse product (one chunk).
  bool takes_sparse_product(const float* x, Index rows, Index in) const;

  // Rows of the last forward call that took the sparse product.
  Index last_sparse_rows() const { return last_sparse_rows_; }

  // Per row of dW (in of them), 0 where the last backward left zeros; null
  // before the first sparse backward.
  const std::uint8_t* maybe_nonzero_rows() const { return maybe_nonzero_.empty() ? nullptr : maybe_nonzero_.data(); }

  // Call when anything but backward() writes dW: backward then rewrites all of it.
  void forget_zero_rows() { std::fill(maybe_nonzero_.begin(), maybe_nonzero_.end(), std::uint8_t(1)); }

 private:
  static constexpr Index kChunkRows = 256;
  // Builds rows_ for x's `rows` rows; false when x is too dense for it.
  bool index_chunk(const float* x, Index rows, Index in);

  CsrMatrix rows_, columns_;
  const float* indexed_ = nullptr;  // the chunk rows_ holds, reused by backward
  Index indexed_rows_ = 0;
  Index last_sparse_rows_ = 0;
  // Per row of dW: 0 when the last backward left it all zeros (no input in
  // the batch had that feature nonzero). Such a row needs no new zeros: with
  // a sparse input at batch 1 this skips writing most of dW's rows.
  AlignedVector<std::uint8_t> maybe_nonzero_;
};

}  // namespace fastmlp
