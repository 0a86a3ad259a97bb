// Products with a sparse left operand, for the first Dense layer on inputs
// that are mostly zeros (images on a blank background, one-hot features). A zero input adds
// nothing to y = x W nor to dW = x^T dy, so skipping it is exact: each output
// is the same fused multiply-add chain over k, in the same order, as the
// dense product's, minus its x = 0 terms. (The one difference: a non-finite
// weight times a zero input gives NaN in the dense product, nothing here.)
//   forward:  y (N, out)   = X (N, in) W (in, out)    X as CSR
//   backward: dW (in, out) = X^T (in, N) dy (N, out)  X^T as CSR (X as CSC)
#pragma once
#include <cstdint>

#include "runtime/aligned.hpp"
#include "runtime/matrix.hpp"

namespace fastmlp {

// Compressed sparse rows: row r's entries are index[start[r] .. start[r+1])
// (column numbers, ascending) and value[...] alike.
struct CsrMatrix {
  Index rows = 0, cols = 0;
  AlignedVector<std::int32_t> start;  // rows + 1
  AlignedVector<std::int32_t> index;  // capacity entries, + slack for vector stores
  AlignedVector<float> value;

  Index nonzeros() const { return rows ? Index(start[rows]) : 0; }
  // Room for `rows` x `cols` with any number of nonzeros; allocates only when growing.
  void reserve(Index rows, Index cols);
};

// How many of the row's values are nonzero (NaN counts, -0 does not), as csr_from_dense counts them.
Index count_nonzeros(const float* row, Index cols);
// Bit j of bits[j / 64] set where row[j] != 0 (NaN included), for j < cols;
// bits holds (cols + 63) / 64 words.
void nonzero_bits(const float* row, Index cols, std::uint64_t* bits);
void nonzero_bits(const std::uint8_t* row, Index cols, std::uint64_t* bits);
inline bool bit_set(const std::uint64_t* bits, Index j) { return (bits[j >> 6] >> (j & 63)) & 1u; }

// x (rows, cols), row-major, to CSR. Gives up, returning false, once the
// nonzeros pass max_nonzeros: a denser x is faster through the dense product.
bool csr_from_dense(const float* x, Index rows, Index cols, Index max_nonzeros, CsrMatrix& out);

// csr_from_dense on `threads` threads, each over its own rows (rows * t /
// threads on, as the mini-batch gather splits them, so that a thread reads
// the rows it has just copied): each counts its rows' nonzeros, one thread
// turns the counts into positions, then each writes its rows' entries.
bool csr_from_dense(const float* x, Index rows, Index cols, Index max_nonzeros, int threads, CsrMatrix& out);

// out = a^T, rows ascending within each of out's rows (a's columns).
void csr_transpose(const CsrMatrix& a, CsrMatrix& out);

// C (a.rows, N) = a (a.rows, a.cols) . B (a.cols, N), or C += ... when
// `accumulate`; B's rows have stride ldb, C's ldc. Each C element is one
// fused multiply-add chain over a's entries in order, on any thread count.
// A row of a with no entries leaves C's row as it is when accumulating (it
// would add zeros), and also when `zero_rows` is given and zero_rows[r] is 0:
// the caller knows that row of C holds zeros already. Otherwise it is zeroed.
void sparse_dense_matmul(const CsrMatrix& a, const float* B, Index ldb, Index N, float* C, Index ldc, bool accumulate,
                         const std::uint8_t* zero_rows = nullptr);

}  // namespace fastmlp
