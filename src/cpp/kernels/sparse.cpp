#include "kernels/sparse.hpp"

#include <algorithm>
#include <array>
#include <utility>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "runtime/parallel.hpp"

namespace fastmlp {
namespace {

// Products below this many multiply-adds stay on one thread. Higher than the
// dense products' 2^16: a sparse product of a few rows runs near the memory
// rate, so starting a team costs more than a second thread saves (measured
// at 2^16 against 2^18, 2 threads, SGD: batch 4 took 1.50 s an epoch
// against 1.08, batch 1 0.98 against 0.87; batch 8 and 32 unchanged).
constexpr Index kParallelMinMacs = Index(1) << 18;
// Output columns one pass over a sparse row keeps in registers: 20 vectors of
// 16 (plus the broadcast and a load, 22 of the 32 registers), so a 300-wide
// layer takes one pass, reading each weight row once per nonzero in one
// sweep. (Passes of 8 vectors, three for 300 columns, ran 3-6% slower at
// batch 32 and 7% at batch 128.)
constexpr Index kChunkVectors = 20;
// Vector stores in csr_from_dense write up to 16 entries past the last one.
constexpr Index kSlack = 16;
// How many entries ahead row_times_dense asks for B's rows.
constexpr Index kPrefetchEntries = 4;

#ifdef __AVX512F__
// c[0, 16 V) (the last vector masked by `last`) = (c or 0) + sum over entries e of
// value[e] * B[index[e]][0, 16 V), one fused multiply-add per entry, in order.
template <int V>
void row_times_dense(const std::int32_t* index, const float* value, Index count, const float* B, Index ldb, float* c,
                     __mmask16 last, bool accumulate) {
  __m512 acc[V];
#pragma GCC unroll 24
  for (int v = 0; v < V; ++v)
    acc[v] =
        accumulate ? _mm512_maskz_loadu_ps(v == V - 1 ? last : __mmask16(0xFFFF), c + 16 * v) : _mm512_setzero_ps();
  for (Index e = 0; e < count; ++e) {
    const float* b = B + Index(index[e]) * ldb;
    const __m512 s = _mm512_set1_ps(value[e]);
    if (e + kPrefetchEntries < count) {
      const char* ahead = reinterpret_cast<const char*>(B + Index(index[e + kPrefetchEntries]) * ldb);
#pragma GCC unroll 24
      for (int v = 0; v < V; ++v) _mm_prefetch(ahead + 64 * v, _MM_HINT_T0);
    }
#pragma GCC unroll 24
    for (int v = 0; v < V; ++v)
      acc[v] = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(v == V - 1 ? last : __mmask16(0xFFFF), b + 16 * v), acc[v]);
  }
#pragma GCC unroll 24
  for (int v = 0; v < V; ++v) _mm512_mask_storeu_ps(c + 16 * v, v == V - 1 ? last : __mmask16(0xFFFF), acc[v]);
}

using RowKernel = void (*)(const std::int32_t*, const float*, Index, const float*, Index, float*, __mmask16, bool);
template <int... V>
constexpr std::array<RowKernel, sizeof...(V)> row_kernels(std::integer_sequence<int, V...>) {
  return {&row_times_dense<V + 1>...};
}

// Columns [j, j + width) of one output row, width <= 16 * kChunkVectors.
void row_chunk(const std::int32_t* index, const float* value, Index count, const float* B, Index ldb, float* c,
               Index width, bool accumulate) {
  const int vectors = int((width + 15) / 16);
  const Index tail = width - 16 * (vectors - 1);
  const __mmask16 last = __mmask16((1u << tail) - 1);
  static constexpr auto kernels = row_kernels(std::make_integer_sequence<int, kChunkVectors>{});
  kernels[vectors - 1](index, value, count, B, ldb, c, last, accumulate);
}
#else
void row_chunk(const std::int32_t* index, const float* value, Index count, const float* B, Index ldb, float* c,
               Index width, bool accumulate) {
  if (!accumulate) std::fill(c, c + width, 0.0f);
  for (Index e = 0; e < count; ++e) {
    const float* b = B + Index(index[e]) * ldb;
    const float s = value[e];
#pragma omp simd
    for (Index j = 0; j < width; ++j) {
#ifdef __FMA__
      c[j] = __builtin_fmaf(s, b[j], c[j]);
#else
      c[j] += s * b[j];
#endif
    }
  }
}
#endif

// Rows [r0, r1) and columns [j0, j1) of C, in chunks of up to kChunkVectors vectors.
void multiply_block(const CsrMatrix& a, const float* B, Index ldb, float* C, Index ldc, bool accumulate,
                    const std::uint8_t* zero_rows, Index r0, Index r1, Index j0, Index j1) {
  const Index vectors = (j1 - j0 + 15) / 16;
  const Index chunks = (vectors + kChunkVectors - 1) / kChunkVectors;
  for (Index r = r0; r < r1; ++r) {
    const Index begin = a.start[r], count = a.start[r + 1] - begin;
    if (count == 0 && (accumulate || (zero_rows && !zero_rows[r]))) continue;
    for (Index c = 0; c < chunks; ++c) {
      // Even chunks, so no short one is left to run at a fraction of the FMA rate.
      const Index from = j0 + 16 * (vectors * c / chunks);
      const Index to = std::min(j1, j0 + 16 * (vectors * (c + 1) / chunks));
      row_chunk(a.index.data() + begin, a.value.data() + begin, count, B + from, ldb, C + r * ldc + from, to - from,
                accumulate);
    }
  }
}

}  // namespace

void CsrMatrix::reserve(Index r, Index c) {
  if (Index(start.size()) < r + 1) start.resize(r + 1);
  if (Index(index.size()) < r * c + kSlack) {
    index.resize(r * c + kSlack);
    value.resize(r * c + kSlack);
  }
}

namespace {

// Row `row`'s nonzeros as (column, value) entries from index[0], value[0]
// on; returns how many. Each vector's nonzeros are compressed to the front:
// with `exact`, only those lanes are stored (the entries after them belong to
// another thread); otherwise all 16, and the next store overwrites the
// unused ones (hence kSlack).
template <bool exact>
Index compress_row(const float* row, Index cols, std::int32_t* index, float* value) {
  Index n = 0;
#ifdef __AVX512F__
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (Index j = 0; j < cols; j += 16) {
    const __mmask16 in = cols - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (cols - j)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(in, row + j);
    const __mmask16 nz = _mm512_mask_cmp_ps_mask(in, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    const int found = _mm_popcnt_u32(nz);
    const __mmask16 put = exact ? __mmask16((1u << found) - 1) : __mmask16(0xFFFF);
    _mm512_mask_storeu_ps(value + n, put, _mm512_maskz_compress_ps(nz, v));
    _mm512_mask_storeu_epi32(index + n, put,
                             _mm512_maskz_compress_epi32(nz, _mm512_add_epi32(lanes, _mm512_set1_epi32(int(j)))));
    n += found;
  }
#else
  for (Index j = 0; j < cols; ++j) {
    if (row[j] != 0.0f) {
      index[n] = std::int32_t(j);
      value[n++] = row[j];
    }
  }
#endif
  return n;
}

}  // namespace

Index count_nonzeros(const float* row, Index cols) {
  Index n = 0;
#ifdef __AVX512F__
  for (Index j = 0; j < cols; j += 16) {
    const __mmask16 in = cols - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (cols - j)) - 1);
    n += _mm_popcnt_u32(
        _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, row + j), _mm512_setzero_ps(), _CMP_NEQ_UQ));
  }
#else
  for (Index j = 0; j < cols; ++j) n += row[j] != 0.0f;
#endif
  return n;
}

void nonzero_bits(const float* row, Index cols, std::uint64_t* bits) {
  std::fill(bits, bits + (cols + 63) / 64, std::uint64_t(0));
#ifdef __AVX512F__
  for (Index j = 0; j < cols; j += 16) {
    const __mmask16 in = cols - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (cols - j)) - 1);
    const __mmask16 nonzero =
        _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, row + j), _mm512_setzero_ps(), _CMP_NEQ_UQ);
    bits[j >> 6] |= std::uint64_t(nonzero) << (j & 63);  // j is a multiple of 16
  }
#else
  for (Index j = 0; j < cols; ++j) bits[j >> 6] |= std::uint64_t(row[j] != 0.0f) << (j & 63);
#endif
}

void nonzero_bits(const std::uint8_t* row, Index cols, std::uint64_t* bits) {
  for (Index j = 0; j < cols; j += 64) {
#ifdef __AVX512BW__
    const __mmask64 in = cols - j >= 64 ? ~__mmask64(0) : (__mmask64(1) << (cols - j)) - 1;
    const __m512i bytes = _mm512_maskz_loadu_epi8(in, row + j);
    bits[j >> 6] = _mm512_test_epi8_mask(bytes, bytes);
#else
    std::uint64_t word = 0;
    for (Index i = j; i < std::min(cols, j + 64); ++i) word |= std::uint64_t(row[i] != 0) << (i - j);
    bits[j >> 6] = word;
#endif
  }
}

bool csr_from_dense(const float* x, Index rows, Index cols, Index max_nonzeros, CsrMatrix& out) {
  out.reserve(rows, cols);
  out.rows = rows;
  out.cols = cols;
  Index n = 0;
  out.start[0] = 0;
  for (Index r = 0; r < rows; ++r) {
    n += compress_row<false>(x + r * cols, cols, out.index.data() + n, out.value.data() + n);
    out.start[r + 1] = std::int32_t(n);
    if (n > max_nonzeros) return false;
  }
  return true;
}

bool csr_from_dense(const float* x, Index rows, Index cols, Index max_nonzeros, int threads, CsrMatrix& out) {
  if (threads <= 1) return csr_from_dense(x, rows, cols, max_nonzeros, out);
  out.reserve(rows, cols);
  out.rows = rows;
  out.cols = cols;
  std::int32_t* start = out.start.data();
  bool fits = true;
  auto build = [&](Index t, Index nt) {
    const Index r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    for (Index r = r0; r < r1; ++r) start[r + 1] = std::int32_t(count_nonzeros(x + r * cols, cols));
#pragma omp barrier
#pragma omp single
    {
      start[0] = 0;
      for (Index r = 0; r < rows; ++r) start[r + 1] += start[r];
      fits = start[rows] <= max_nonzeros;
    }
    if (!fits) return;
    for (Index r = r0; r < r1; ++r)
      compress_row<true>(x + r * cols, cols, out.index.data() + start[r], out.value.data() + start[r]);
  };
  run_shares(threads, build);
  return fits;
}

void csr_transpose(const CsrMatrix& a, CsrMatrix& out) {
  out.reserve(a.cols, a.rows);
  out.rows = a.cols;
  out.cols = a.rows;
  std::int32_t* start = out.start.data();
  std::fill(start, start + a.cols + 1, 0);
  const Index n = a.nonzeros();
  for (Index e = 0; e < n; ++e) ++start[a.index[e] + 1];
  for (Index c = 0; c < a.cols; ++c) start[c + 1] += start[c];
  // Walking a's rows in order appends each row number to its columns in order;
  // start[c] serves as column c's fill position and ends as start[c + 1].
  for (Index r = 0; r < a.rows; ++r) {
    for (Index e = a.start[r]; e < a.start[r + 1]; ++e) {
      const std::int32_t at = start[a.index[e]]++;
      out.index[at] = std::int32_t(r);
      out.value[at] = a.value[e];
    }
  }
  for (Index c = a.cols; c > 0; --c) start[c] = start[c - 1];
  start[0] = 0;
}

void sparse_dense_matmul(const CsrMatrix& a, const float* B, Index ldb, Index N, float* C, Index ldc, bool accumulate,
                         const std::uint8_t* zero_rows) {
  const Index M = a.rows, nonzeros = a.nonzeros();
  if (M <= 0 || N <= 0) return;
  const Index vectors = (N + 15) / 16;
  const int threads = nonzeros * N >= kParallelMinMacs ? int(std::min<Index>(num_threads(), std::max(vectors, M))) : 1;
  // Thread t of nt takes rows holding an equal share of the nonzeros, or an
  // equal share of the column vectors when there are few rows.
  auto multiply_share = [&](Index t, Index nt) {
    if (M >= 2 * nt) {
      const auto row_at = [&](Index share) {
        const std::int32_t target = std::int32_t(nonzeros * share / nt);
        return Index(std::lower_bound(a.start.data(), a.start.data() + M, target) - a.start.data());
      };
      const Index r0 = t == 0 ? 0 : row_at(t), r1 = t + 1 == nt ? M : row_at(t + 1);
      multiply_block(a, B, ldb, C, ldc, accumulate, zero_rows, r0, r1, 0, N);
    } else {
      const Index j0 = std::min(N, 16 * (vectors * t / nt)), j1 = std::min(N, 16 * (vectors * (t + 1) / nt));
      if (j0 < j1) multiply_block(a, B, ldb, C, ldc, accumulate, zero_rows, 0, M, j0, j1);
    }
  };
  run_shares(threads, multiply_share);
}

}  // namespace fastmlp
