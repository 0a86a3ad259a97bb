// Which of the two threads of a batch-1 split step (split_step.cpp) updates
// each kernel row of the first layer.
//
// Why: thread 0 runs the first layer's forward product, which reads the
// kernel rows of the lit pixels. A lit row that thread 1 then updates costs
// it about 0.9 ns a value against 0.37 for a row the other core has not
// touched (Adam, measured inside the step): its lines move between the cores.
// So thread 0 takes the band of rows whose pixels are lit most often so far
// (on MNIST, the middle of the image), thread 1 the rows on either side of
// it, and the band is as wide as evens out the two threads' times. Rows
// dealt out one by one by how often they are lit ran slower (Adam: 73 against
// 60 us of work a step): short runs of rows cost more than the lines saved.
// Each row stays on one core from step to step, and which thread updates a
// row never changes its bits.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "matrix.hpp"

namespace fastmlp {

class RowOwners {
 public:
  // Bit k of the mask: thread 1 updates row k.
  const std::uint64_t* second_mask(Index rows) {
    if (rows != Index(lit_count_.size())) reset(rows);
    return mask_.data();
  }

  // Counts the lit pixels of one step's row (bit k of `lit`: x[k] != 0),
  // one step in kCountEvery; now and then the band is placed again.
  void count(const std::uint64_t* lit) {
    if (++steps_ % kCountEvery != 0) return;
    for (std::size_t w = 0; w < mask_.size(); ++w)
      for (std::uint64_t bits = lit[w]; bits != 0; bits &= bits - 1)
        ++lit_count_[w * 64 + std::size_t(__builtin_ctzll(bits))];
    const std::int64_t counted = steps_ / kCountEvery;
    // Early on at every power of two, then every kPlaceEvery counts.
    if ((counted & (counted - 1)) == 0 || counted % kPlaceEvery == 0) place();
  }

  // Widens or narrows the band after a step in which thread 0 finished its
  // own work `lag` seconds after thread 1 (negative: before), a row taking
  // about `row_seconds`: by a quarter of the rows that would even the two
  // out, at most 16, so that noise does not move many.
  void rebalance(double lag, double row_seconds) {
    if (rows() < 2 || !(row_seconds > 0) || !std::isfinite(lag)) return;
    const double move = std::clamp(lag / (4 * row_seconds), -16.0, 16.0);
    set_band(std::clamp<Index>(width_ - Index(std::lround(move)), 1, rows() - 1));
  }

 private:
  static constexpr std::int64_t kCountEvery = 8, kPlaceEvery = 512;

  Index rows() const { return Index(lit_count_.size()); }

  void reset(Index rows) {
    lit_count_.assign(std::size_t(rows), 0);
    mask_.assign(std::size_t((rows + 63) / 64), 0);
    steps_ = 0;
    center_ = rows / 2;
    set_band(std::max<Index>(1, rows / 2));
  }

  // Centers the band where a band of its width covers the most lit pixels
  // (the first such place; before any count, the middle).
  void place() {
    const Index n = rows(), w = width_;
    std::uint64_t covered = 0;
    for (Index k = 0; k < w; ++k) covered += lit_count_[std::size_t(k)];
    std::uint64_t best = covered;
    Index best_begin = (n - w) / 2;
    for (Index begin = 1; begin + w <= n; ++begin) {
      covered += lit_count_[std::size_t(begin + w - 1)];
      covered -= lit_count_[std::size_t(begin - 1)];
      if (covered > best) best = covered, best_begin = begin;
    }
    center_ = best_begin + w / 2;
    set_band(w);
  }

  // Thread 0 takes rows [begin, begin + width) around center_, thread 1 the rest.
  void set_band(Index width) {
    width_ = width;
    const Index n = rows(), begin = std::clamp<Index>(center_ - width / 2, 0, n - width), end = begin + width;
    // Bits [lo, hi) of word w.
    auto bits = [](Index w, Index lo, Index hi) {
      lo = std::max(lo, 64 * w) - 64 * w, hi = std::min(hi, 64 * w + 64) - 64 * w;
      if (hi <= lo) return std::uint64_t(0);
      return (hi - lo == 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << (hi - lo)) - 1) << lo;
    };
    for (Index w = 0; w < Index(mask_.size()); ++w) mask_[std::size_t(w)] = bits(w, 0, n) & ~bits(w, begin, end);
  }

  std::vector<std::uint32_t> lit_count_;
  std::vector<std::uint64_t> mask_;
  std::int64_t steps_ = 0;
  Index center_ = 0, width_ = 0;  // thread 0's band of rows
};

}  // namespace fastmlp
