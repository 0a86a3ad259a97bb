// fastmlp's own AVX-512 float32 product (see gemm.hpp). Eigen 3.4's product
// reaches about 40% of this CPU's AVX-512 peak; the training step's shapes
// (a batch of 32 rows against 784x300 weights) need most of it.
//
// C is cut into tiles of kRows x (kVectors * 16) and each tile is one
// micro-kernel call that keeps the whole tile in registers for all of k:
// per k, it loads kVectors vectors of op(B)'s row, broadcasts kRows values of
// op(A)'s column, and does kRows * kVectors fused multiply-adds. op(A) is read
// in place through two strides (so A and A^T cost the same); B^T is packed
// into a per-thread panel first, since its rows would be a strided gather.
#ifdef __AVX512F__
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/gemm.hpp"
#include "runtime/parallel.hpp"

namespace fastmlp {
namespace {

constexpr int kRows = 8;
constexpr int kVectors = 3;
constexpr Index kPanel = kVectors * 16;  // columns per tile
constexpr Index kDepth = 256;            // k per cache block: a panel of op(B) is 48 KiB
constexpr Index kRowBlock = 128;         // rows of op(A) per cache block: 128 KiB at kDepth
// Products below this many multiply-adds stay on one thread.
constexpr Index kParallelMinMacs = Index(1) << 16;

struct Operands {
  Index K;
  const float* a;  // op(A)(i, k) = a[i * a_row + k * a_col]
  Index a_row, a_col;
  Index ldb;  // op(B)(k, j) = b[k * ldb + j], b passed to the kernel
  float* c;
  Index ldc;
  bool accumulate;
};

// One tile: rows i < R, columns 16 * V, the last vector masked by `last`.
template <int R, int V>
void tile_kernel(const Operands& o, const float* a, const float* b, float* c, __mmask16 last) {
  // Locals, not o's fields: GCC would reload those on every k.
  const Index K = o.K, a_row = o.a_row, a_col = o.a_col, ldb = o.ldb, ldc = o.ldc;
  // Every loop over r and v is unrolled completely so that acc lives in registers.
  __m512 acc[R][V];
  if (o.accumulate) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        acc[r][v] = _mm512_maskz_loadu_ps(v == V - 1 ? last : __mmask16(0xFFFF), c + r * ldc + 16 * v);
  } else {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (Index k = 0; k < K; ++k) {
    __m512 bk[V];
    const float* brow = b + k * ldb;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      bk[v] = v == V - 1 ? _mm512_maskz_loadu_ps(last, brow + 16 * v) : _mm512_loadu_ps(brow + 16 * v);
    const float* acol = a + k * a_col;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 ar = _mm512_set1_ps(acol[r * a_row]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bk[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      float* dst = c + r * ldc + 16 * v;
      if (v == V - 1)
        _mm512_mask_storeu_ps(dst, last, acc[r][v]);
      else
        _mm512_storeu_ps(dst, acc[r][v]);
    }
}

using TileFn = void (*)(const Operands&, const float*, const float*, float*, __mmask16);

template <int R, int... V>
constexpr std::array<TileFn, kVectors> row_of_kernels(std::integer_sequence<int, V...>) {
  return {&tile_kernel<R, V + 1>...};
}
template <int... R>
constexpr std::array<std::array<TileFn, kVectors>, kRows> kernel_table(std::integer_sequence<int, R...>) {
  return {row_of_kernels<R + 1>(std::make_integer_sequence<int, kVectors>{})...};
}
constexpr auto kKernels = kernel_table(std::make_integer_sequence<int, kRows>{});

// r[0..15] (16 rows of 16) becomes its transpose, in four rounds of
// interleaving: 32-bit pairs, 64-bit pairs, then 128-bit lanes twice.
inline void transpose_16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// B^T's columns j0 .. j0+width as a (K, kPanel) row-major panel, in 16x16
// register transposes: element by element, this packing cost more than the
// product itself when op(A) has a single row (a batch of one).
void pack_transposed_panel(const float* B, Index ldb, Index K, Index j0, Index width, float* panel) {
  for (Index jb = 0; jb < width; jb += 16) {
    const Index nj = std::min<Index>(16, width - jb);
    for (Index kb = 0; kb < K; kb += 16) {
      const Index nk = std::min<Index>(16, K - kb);
      const __mmask16 mask = __mmask16((1u << nk) - 1);
      __m512 r[16];
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j)
        r[j] = j < nj ? _mm512_maskz_loadu_ps(mask, B + (j0 + jb + j) * ldb + kb) : _mm512_setzero_ps();
      transpose_16x16(r);
      // A panel row holds kPanel floats, a multiple of 16, so all 16 fit.
      for (Index k = 0; k < nk; ++k) _mm512_storeu_ps(panel + (kb + k) * kPanel + jb, r[k]);
    }
  }
}

// One row times B^T (a batch of one's dx = dy W^T): c[j] = a . B's row j,
// along contiguous memory, four rows of B at a time. Each value is 16 lane
// sums over k in order, then _mm512_reduce_add_ps's fixed tree, then added
// to c when accumulating. Rows [j_begin, j_end) of B.
void row_times_transposed(const float* a, const float* B, Index ldb, Index K, float* c, bool accumulate, Index j_begin,
                          Index j_end) {
  constexpr int kRowsAtOnce = 4;
  for (Index j = j_begin; j < j_end; j += kRowsAtOnce) {
    const int rows = int(std::min<Index>(kRowsAtOnce, j_end - j));
    __m512 acc[kRowsAtOnce] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (Index k = 0; k < K; k += 16) {
      const __mmask16 valid = K - k >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (K - k)) - 1);
      const __m512 ak = _mm512_maskz_loadu_ps(valid, a + k);
#pragma GCC unroll 4
      for (int r = 0; r < kRowsAtOnce; ++r)
        if (r < rows) acc[r] = _mm512_fmadd_ps(ak, _mm512_maskz_loadu_ps(valid, B + (j + r) * ldb + k), acc[r]);
    }
    for (int r = 0; r < rows; ++r) {
      const float sum = _mm512_reduce_add_ps(acc[r]);
      c[j + r] = accumulate ? c[j + r] + sum : sum;
    }
  }
}

// A single row times B: c[0, 16 V) (the last vector masked by `last`) =
// (c or 0) + sum over k of a[k] B[k][0, 16 V), each column's multiply-adds in
// order of k, as tile_kernel chains them (so the same bits). With up to 20
// vectors of columns at once: a 1-row tile of 3 vectors waits on the
// multiply-add's latency at every k.
template <int V>
void single_row_times(const float* a, Index a_col, Index K, const float* B, Index ldb, float* c, __mmask16 last,
                      bool accumulate) {
  __m512 acc[V];
#pragma GCC unroll 20
  for (int v = 0; v < V; ++v)
    acc[v] =
        accumulate ? _mm512_maskz_loadu_ps(v == V - 1 ? last : __mmask16(0xFFFF), c + 16 * v) : _mm512_setzero_ps();
  for (Index k = 0; k < K; ++k) {
    const __m512 s = _mm512_set1_ps(a[k * a_col]);
    const float* brow = B + k * ldb;
#pragma GCC unroll 20
    for (int v = 0; v < V; ++v)
      acc[v] = _mm512_fmadd_ps(
          s, v == V - 1 ? _mm512_maskz_loadu_ps(last, brow + 16 * v) : _mm512_loadu_ps(brow + 16 * v), acc[v]);
  }
#pragma GCC unroll 20
  for (int v = 0; v < V; ++v) _mm512_mask_storeu_ps(c + 16 * v, v == V - 1 ? last : __mmask16(0xFFFF), acc[v]);
}

constexpr int kSingleRowVectors = 20;
using SingleRowFn = void (*)(const float*, Index, Index, const float*, Index, float*, __mmask16, bool);
template <int... V>
constexpr std::array<SingleRowFn, sizeof...(V)> single_row_kernels(std::integer_sequence<int, V...>) {
  return {&single_row_times<V + 1>...};
}

// Columns [j_begin, j_end) of a single row's product, in even chunks of up
// to kSingleRowVectors vectors.
void single_row_block(const float* a, Index a_col, Index K, const float* B, Index ldb, float* c, bool accumulate,
                      Index N, Index v_begin, Index v_end) {
  static constexpr auto kernels = single_row_kernels(std::make_integer_sequence<int, kSingleRowVectors>{});
  const Index vectors = v_end - v_begin, chunks = (vectors + kSingleRowVectors - 1) / kSingleRowVectors;
  for (Index i = 0; i < chunks; ++i) {
    const Index from = v_begin + vectors * i / chunks, to = v_begin + vectors * (i + 1) / chunks;
    const Index j0 = 16 * from, width = std::min(N, 16 * to) - j0;
    const __mmask16 last = __mmask16((1u << (width - 16 * (to - from - 1))) - 1);
    kernels[to - from - 1](a, a_col, K, B + j0, ldb, c + j0, last, accumulate);
  }
}

}  // namespace

namespace {

// C's rows [i_begin, i_end) x columns [j_begin, j_end), in cache blocks:
// kDepth values of k at a time (C is stored and reloaded between them, which
// changes no bits: the accumulators are float32 either way), kRowBlock rows
// of op(A) at a time (kept in L2 across the column panels), then column
// panels of up to kVectors vectors (sized evenly, since a one-vector panel
// runs slower), and within each panel, tiles of kRows rows.
void multiply_block(const Operands& o, bool pack_b, const float* B, Index ldb, Index i_begin, Index i_end,
                    Index j_begin, Index j_end, float* panel) {
  const Index vectors = (j_end - j_begin + 15) / 16;
  const Index panels = (vectors + kVectors - 1) / kVectors;
  for (Index k0 = 0; k0 < o.K; k0 += kDepth) {
    Operands block = o;
    block.K = std::min(kDepth, o.K - k0);
    block.accumulate = o.accumulate || k0 > 0;
    const float* a = o.a + k0 * o.a_col;
    for (Index ib = i_begin; ib < i_end; ib += kRowBlock) {
      const Index ib_end = std::min(i_end, ib + kRowBlock);
      Index j0 = j_begin;
      for (Index p = 0; p < panels; ++p) {
        const Index panel_vectors = vectors * (p + 1) / panels - vectors * p / panels;
        const Index width = std::min<Index>(16 * panel_vectors, j_end - j0);
        const int tail = int(width - 16 * (panel_vectors - 1));
        const __mmask16 last = __mmask16((1u << tail) - 1);
        const float* b = B + k0 * ldb + j0;
        if (pack_b) {
          pack_transposed_panel(B + k0, ldb, block.K, j0, width, panel);
          b = panel;
        }
        const TileFn* kernels = kKernels[0].data() + (panel_vectors - 1);
        for (Index i0 = ib; i0 < ib_end; i0 += kRows) {
          const Index rows = std::min<Index>(kRows, ib_end - i0);
          kernels[(rows - 1) * kVectors](block, a + i0 * o.a_row, b, o.c + i0 * o.ldc + j0, last);
        }
        j0 += width;
      }
    }
  }
}

}  // namespace

void sgemm(Op op_a, Op op_b, Index M, Index N, Index K, const float* A, Index lda, const float* B, Index ldb, float* C,
           Index ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // an empty sum: C = 0, or C unchanged
    if (!accumulate)
      for (Index i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
    return;
  }
  const bool ta = op_a == Op::Transpose, tb = op_b == Op::Transpose;
  if (M == 1 && tb) {  // packing B^T would cost more than the product: dot products instead
    const int threads = N * K >= kParallelMinMacs ? int(std::min<Index>(num_threads(), N)) : 1;
    auto share = [&](Index t, Index nt) {
      row_times_transposed(A, B, ldb, K, C, accumulate, N * t / nt, N * (t + 1) / nt);
    };
    run_shares(threads, share);
    return;
  }
  if (M == 1) {  // one row: as many column vectors at once as registers allow
    const Index vectors = (N + 15) / 16, a_col = ta ? lda : 1;
    const int threads = N * K >= kParallelMinMacs ? int(std::min<Index>(num_threads(), vectors)) : 1;
    auto share = [&](Index t, Index nt) {
      const Index v0 = vectors * t / nt, v1 = vectors * (t + 1) / nt;
      if (v0 < v1) single_row_block(A, a_col, K, B, ldb, C, accumulate, N, v0, v1);
    };
    run_shares(threads, share);
    return;
  }
  const Operands o{K, A, ta ? 1 : lda, ta ? lda : 1, tb ? kPanel : ldb, C, ldc, accumulate};
  const Index col_vectors = (N + 15) / 16, row_tiles = (M + kRows - 1) / kRows;
  const int threads =
      M * N * K >= kParallelMinMacs ? int(std::min<Index>(num_threads(), std::max(col_vectors, row_tiles))) : 1;
  // Thread t of nt takes an equal share of whole column vectors (so every
  // thread reads its own B panels once), or of row tiles when C has few columns.
  auto multiply_share = [&](Index t, Index nt) {
    // Per-thread panel for B^T, allocated once per thread.
    alignas(64) thread_local float panel[kDepth * kPanel];
    Index i_begin = 0, i_end = M, j_begin = 0, j_end = N;
    if (col_vectors >= 2 * nt || col_vectors >= row_tiles) {
      j_begin = std::min(N, 16 * (col_vectors * t / nt));
      j_end = std::min(N, 16 * (col_vectors * (t + 1) / nt));
    } else {
      i_begin = std::min(M, kRows * (row_tiles * t / nt));
      i_end = std::min(M, kRows * (row_tiles * (t + 1) / nt));
    }
    if (i_begin < i_end && j_begin < j_end) multiply_block(o, tb, B, ldb, i_begin, i_end, j_begin, j_end, panel);
  };
  run_shares(threads, multiply_share);
}

const char* sgemm_kernel_name() { return "avx512"; }

}  // namespace fastmlp
#endif  // __AVX512F__
