#include "optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

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
  parallel_for<false>(kChunks, [&partial, g, n, chunk](Index c) {
    const Index begin = std::min(n, c * chunk), end = std::min(n, begin + chunk);
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (Index i = begin; i < end; ++i) s += double(g[i]) * double(g[i]);
    partial[c] = s;
  }, /*min_parallel=*/n >= kParallelMinElements ? 1 : kChunks + 1);  // threads only for long arrays
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
  for (std::size_t i = 0; i < count; ++i) {
    const Range& r = ranges[i];
    update({params + r.begin, grads + r.begin, r.end - r.begin}, r.begin, base);
  }
  finish(t);
  ++iterations;
}

}  // namespace fastmlp
