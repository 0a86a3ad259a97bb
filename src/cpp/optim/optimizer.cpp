#include "optim/optimizer.hpp"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace fastmlp {
namespace {

// s[i] <- factor * s[i] + addend, `steps` times over s[0, count), each step
// rounded as the rules round it (a product, then a sum: no fused
// multiply-add). A stretch that a step leaves as it was (often all zeros,
// where a pixel never lights) is at its fixed point: the remaining steps
// would leave it too.
void decay_state(float* s, Index count, std::int64_t steps, float factor, float addend) {
#ifdef __AVX512F__
  // Blocks of up to 8 vectors held in registers through all their steps.
  constexpr int kVectors = 8;
  const __m512 f = _mm512_set1_ps(factor), a = _mm512_set1_ps(addend);
  for (Index b = 0; b < count; b += 16 * kVectors) {
    __mmask16 lanes[kVectors];
    __m512 v[kVectors];
#pragma GCC unroll 8
    for (int j = 0; j < kVectors; ++j) {
      const Index left = std::max<Index>(0, std::min<Index>(16, count - b - 16 * j));
      lanes[j] = __mmask16((1u << left) - 1);
      v[j] = _mm512_maskz_loadu_ps(lanes[j], s + b + 16 * j);
    }
    for (std::int64_t k = 0; k < steps; ++k) {
      __mmask16 changed = 0;
#pragma GCC unroll 8
      for (int j = 0; j < kVectors; ++j) {
        const __m512 next = _mm512_add_ps(_mm512_mul_ps(v[j], f), a);
        changed |= _mm512_mask_cmp_ps_mask(lanes[j], next, v[j], _CMP_NEQ_UQ);
        v[j] = next;
      }
      if (!changed) break;
    }
#pragma GCC unroll 8
    for (int j = 0; j < kVectors; ++j) _mm512_mask_storeu_ps(s + b + 16 * j, lanes[j], v[j]);
  }
#else
  constexpr Index kBlock = 512;
  alignas(64) float v[kBlock];
  for (Index b = 0; b < count; b += kBlock) {
    const Index m = std::min(kBlock, count - b);
    std::copy(s + b, s + b + m, v);
    for (std::int64_t k = 0; k < steps; ++k) {
      int changed = 0;
#pragma omp simd reduction(| : changed)
      for (Index i = 0; i < m; ++i) {
        const float next = factor * v[i] + addend;
        changed |= int(next != v[i]);
        v[i] = next;
      }
      if (!changed) break;
    }
    std::copy(v, v + m, s + b);
  }
#endif
}

}  // namespace

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

bool Optimizer::defers_zero_steps() const {
  ZeroStepDecay decay;
  return updates_piecewise() && !states_.empty() && base_transform().is_identity() &&
         std::isfinite(float(learning_rate)) && zero_step_decay(decay);
}

bool Optimizer::zero_steps_keep_params(const float* params, Index offset, Index count) const {
  const float* state0 = states_.at(0).data() + offset;
  // On the bits, so that subnormals count as what they are whatever the mode.
  // The parameter must be +0 or a finite normal float: p - 0 (the identity
  // transform's loop, see IdentityTransform) gives those back, flushing
  // subnormals or not, and for either sign of the learning rate. (A
  // subnormal comes back 0 when flushed; -0, infinities and NaNs would
  // mostly stay too, but such weights are rare enough to be left out.) The
  // state must be finite and >= 0, -0 included: above 0x7F7FFFFF are inf,
  // NaN and every value with its sign bit set.
#ifdef __AVX512F__
  const __m512i exponent_bits = _mm512_set1_epi32(0x7F800000), largest = _mm512_set1_epi32(0x7F7FFFFF),
                minus_zero = _mm512_set1_epi32(int(0x80000000u));
  __mmask16 rejected = 0;
  for (Index i = 0; i < count; i += 16) {
    const __mmask16 lanes = count - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (count - i)) - 1);
    const __m512i p = _mm512_maskz_loadu_epi32(lanes, params + i), s = _mm512_maskz_loadu_epi32(lanes, state0 + i);
    const __m512i exponent = _mm512_and_si512(p, exponent_bits);
    const __mmask16 param_changes =
        _mm512_test_epi32_mask(p, p) & (_mm512_testn_epi32_mask(exponent, exponent) |
                                         _mm512_cmpeq_epi32_mask(exponent, exponent_bits));
    const __mmask16 state_outside = _mm512_cmpgt_epu32_mask(s, largest) & _mm512_cmpneq_epi32_mask(s, minus_zero);
    rejected |= param_changes | state_outside;
  }
  return rejected == 0;
#else
  std::uint32_t rejected = 0;
#pragma omp simd reduction(| : rejected)
  for (Index i = 0; i < count; ++i) {
    std::uint32_t p, s;
    std::memcpy(&p, params + i, sizeof p);
    std::memcpy(&s, state0 + i, sizeof s);
    const std::uint32_t exponent = p & 0x7F800000u;
    const std::uint32_t param_changes = std::uint32_t(p != 0) & (std::uint32_t(exponent == 0) | std::uint32_t(exponent == 0x7F800000u));
    const std::uint32_t state_outside = std::uint32_t(s > 0x7F7FFFFFu) & std::uint32_t(s != 0x80000000u);
    rejected |= param_changes | state_outside;
  }
  return rejected == 0;
#endif
}

void Optimizer::catch_up_zero_steps(Index offset, Index count, std::int64_t steps) {
  ZeroStepDecay decay;
  zero_step_decay(decay);  // the constants the deferred steps had (set between calls only)
  decay_state(states_.at(0).data() + offset, count, steps, decay.factor, decay.addend);
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
