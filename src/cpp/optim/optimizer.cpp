#include "optim/optimizer.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

namespace fastmlp {
void Optimizer::bind(Index n) {
  if (n < 0) throw std::invalid_argument("parameter count must be >= 0");
  const auto names = state_names();
  states_.resize(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) states_[i].assign(n, initial_state(i));
  bound_size_ = n;
}

double sum_of_squares(const float* g, Index n) {
  // A fixed number of chunks, each summed in order, then the chunks in
  // order: the same bits for any thread count, and no allocation.
  constexpr Index kChunks = 64;
  double partial[kChunks];
  const Index chunk = (n + kChunks - 1) / kChunks;
  parallel_for<false>(
      kChunks,
      [&partial, g, n, chunk](Index c) {
        const Index begin = std::min(n, c * chunk), end = std::min(n, begin + chunk);
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (Index i = begin; i < end; ++i) s += double(g[i]) * double(g[i]);
        partial[c] = s;
      },
      /*min_parallel=*/n >= kParallelMinElements ? 1 : kChunks + 1);  // threads only for long arrays
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

GradientTransform Optimizer::base_transform() const {
  GradientTransform base;
  base.scale = maximize ? -1.0f : 1.0f;
  if (clip_value > 0) base.clip = float(clip_value);
  base.l2 = float(l2_weight_decay);
  if (torch_decay_form)
    base.keep = float(1.0 - learning_rate * decoupled_weight_decay);
  else
    base.decay = float(learning_rate * decoupled_weight_decay);
  return base;
}

void Optimizer::step(const Span* spans, std::size_t count) {
  Index total = 0;
  for (std::size_t i = 0; i < count; ++i) total += spans[i].size;
  if (total != bound_size_) bind(total);
  const std::int64_t t = iterations + 1;
  prepare(t);

  const GradientTransform base = base_transform();

  // Keras's clip_by_norm / clip_by_global_norm: g * c / max(norm, c).
  auto norm_scale = [](double norm, double c) { return float(c / std::max(norm, c)); };
  float global_scale = 1.0f;
  if (global_clip_norm > 0) {
    double sq = 0;
    for (std::size_t i = 0; i < count; ++i) sq += sum_of_squares(spans[i].grads, spans[i].size);
    global_scale = norm_scale(std::sqrt(sq), global_clip_norm);
  }
  Index offset = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const Span& s = spans[i];
    GradientTransform transform = base;
    transform.scale *= global_scale;
    if (clip_norm > 0) transform.scale *= norm_scale(std::sqrt(sum_of_squares(s.grads, s.size)), clip_norm);
    update(s, offset, transform);
    offset += s.size;
  }
  finish(t);
  ++iterations;
}

std::pair<GradientTransform, float> Optimizer::begin_direct_step(Index n) {
  if (!updates_piecewise()) throw std::logic_error(name() + " clips by norm: it needs every gradient first");
  if (n != bound_size_) bind(n);
  prepare(iterations + 1);
  return {base_transform(), float(learning_rate)};  // no norm clipping here
}

void Optimizer::end_direct_step() {
  finish(iterations + 1);
  ++iterations;
}

void Optimizer::step_ranges(float* params, const float* grads, Index n, const Range* ranges, std::size_t count) {
  if (!skips_zero_gradients()) throw std::logic_error(name() + " cannot skip zero gradients");
  if (n != bound_size_) bind(n);
  const std::int64_t t = iterations + 1;
  prepare(t);
  const GradientTransform base = base_transform();  // no decay or norm clipping here
  Index covered = 0;
  for (std::size_t i = 0; i < count; ++i) covered += ranges[i].end - ranges[i].begin;
  // The ranges as one run of values cut into equal parts, one per thread (a
  // range alone is mostly too short for threads: at batch 32 the first
  // layer's rows of nonzero inputs come in runs of a few rows), each part in
  // pieces below the size where a loop starts threads of its own. The same
  // rule on the same values, so the same bits on any thread count.
  constexpr Index kPiece = kParallelMinElements / 2;
  auto share = [&](Index th, Index nt) {
    const Index from = covered * th / nt, to = covered * (th + 1) / nt;
    Index seen = 0;  // values in the ranges before range i
    for (std::size_t i = 0; i < count && seen < to; ++i) {
      const Index size = ranges[i].end - ranges[i].begin;
      const Index b = ranges[i].begin + std::max<Index>(0, from - seen),
                  e = ranges[i].begin + std::min(size, to - seen);
      for (Index at = b; at < e; at += kPiece) update({params + at, grads + at, std::min(kPiece, e - at)}, at, base);
      seen += size;
    }
  };
  run_shares(covered >= kParallelMinElements ? num_threads() : 1, share);
  finish(t);
  ++iterations;
}

}  // namespace fastmlp
