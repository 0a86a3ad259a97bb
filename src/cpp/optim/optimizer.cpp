#include "optim/optimizer.hpp"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

namespace fastmlp {
namespace {

// The decay of ZeroStepDecay, `steps` times over s[0, count), each step
// rounded as the rules round it (no fused multiply-add): factor * s + addend
// (a product, then a sum), or s + weight * (target - s). A block of values
// stops at the first tested step that leaves every one of them as it was:
// each is then at a fixed point of the step, and the steps left would leave
// it too (often 0, where a pixel never lights).
#ifdef __AVX512F__
// How many steps run between fixed-point tests: the test costs a compare per
// vector, a step only a multiply (and an add or two).
constexpr std::int64_t kStepsPerTest = 8;

// V vectors (the last one masked by `last`) held in registers through all
// their steps: a row of the references' first layer (300 values) is one block.
template <int V, bool Lerp>
void decay_block(float* s, __mmask16 last, std::int64_t steps, const Optimizer::ZeroStepDecay& d) {
  const __m512 f = _mm512_set1_ps(Lerp ? d.weight : d.factor), a = _mm512_set1_ps(Lerp ? d.target : d.addend);
  // With an addend of +0, only the first step's sum can change a value
  // (-0 * factor + 0 is +0); from then on x * factor + 0 is x * factor.
  const bool sum_after_first = Lerp || !(d.addend == 0.0f && !std::signbit(d.addend));
  __m512 v[V];
#pragma GCC unroll 20
  for (int j = 0; j < V; ++j) v[j] = _mm512_maskz_loadu_ps(j == V - 1 ? last : __mmask16(0xFFFF), s + 16 * j);
  // Masked-off lanes hold +0, which every step leaves as it is.
  auto step = [&](bool sum, __mmask16* changed) {
#pragma GCC unroll 20
    for (int j = 0; j < V; ++j) {
      __m512 next;
      if constexpr (Lerp) {
        next = _mm512_add_ps(v[j], _mm512_mul_ps(f, _mm512_sub_ps(a, v[j])));
      } else {
        next = _mm512_mul_ps(v[j], f);
        if (sum) next = _mm512_add_ps(next, a);
      }
      if (changed) *changed |= _mm512_cmp_ps_mask(next, v[j], _CMP_NEQ_UQ);
      v[j] = next;
    }
  };
  std::int64_t done = 0;
  if (steps > 0) {
    __mmask16 changed = 0;
    step(true, &changed);
    done = changed ? 1 : steps;
  }
  while (done < steps) {
    const std::int64_t burst = std::min(kStepsPerTest, steps - done);
    for (std::int64_t k = 1; k < burst; ++k) step(sum_after_first, nullptr);
    __mmask16 changed = 0;
    step(sum_after_first, &changed);
    done = changed ? done + burst : steps;
  }
#pragma GCC unroll 20
  for (int j = 0; j < V; ++j) _mm512_mask_storeu_ps(s + 16 * j, j == V - 1 ? last : __mmask16(0xFFFF), v[j]);
}

constexpr int kBlockVectors = 20;
using DecayBlock = void (*)(float*, __mmask16, std::int64_t, const Optimizer::ZeroStepDecay&);
template <bool Lerp, int... V>
constexpr std::array<DecayBlock, sizeof...(V)> decay_blocks(std::integer_sequence<int, V...>) {
  return {&decay_block<V + 1, Lerp>...};
}

void decay_state(float* s, Index count, std::int64_t steps, const Optimizer::ZeroStepDecay& d) {
  static constexpr auto affine = decay_blocks<false>(std::make_integer_sequence<int, kBlockVectors>{});
  static constexpr auto lerp = decay_blocks<true>(std::make_integer_sequence<int, kBlockVectors>{});
  for (Index b = 0; b < count; b += 16 * kBlockVectors) {
    const Index size = std::min<Index>(16 * kBlockVectors, count - b);
    const int vectors = int((size + 15) / 16);
    const __mmask16 last = __mmask16((1u << (size - 16 * (vectors - 1))) - 1);
    (d.lerp ? lerp : affine)[vectors - 1](s + b, last, steps, d);
  }
}
#else
template <bool Lerp>
void decay_values(float* s, Index count, std::int64_t steps, const Optimizer::ZeroStepDecay& d) {
  constexpr Index kBlock = 512;
  alignas(64) float v[kBlock];
  const float f = Lerp ? d.weight : d.factor, a = Lerp ? d.target : d.addend;
  for (Index b = 0; b < count; b += kBlock) {
    const Index m = std::min(kBlock, count - b);
    std::copy(s + b, s + b + m, v);
    for (std::int64_t k = 0; k < steps; ++k) {
      int changed = 0;
#pragma omp simd reduction(| : changed)
      for (Index i = 0; i < m; ++i) {
        const float next = Lerp ? v[i] + f * (a - v[i]) : f * v[i] + a;
        changed |= int(next != v[i]);
        v[i] = next;
      }
      if (!changed) break;
    }
    std::copy(v, v + m, s + b);
  }
}

void decay_state(float* s, Index count, std::int64_t steps, const Optimizer::ZeroStepDecay& d) {
  if (d.lerp)
    decay_values<true>(s, count, steps, d);
  else
    decay_values<false>(s, count, steps, d);
}
#endif

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
         std::isfinite(float(learning_rate)) && zero_step_decay(decay) && decay.state < states_.size();
}

double Optimizer::learning_rate_bound() const {
  return std::max(std::abs(learning_rate), deferral_learning_rate_bound);
}

bool Optimizer::zero_steps_keep_params(const float* params, Index offset, Index count) const {
  ZeroStepDecay decay;
  if (!zero_step_decay(decay) || !zero_step_settled(params, offset, count)) return false;
  const float* decayed = states_.at(decay.state).data() + offset;
  // On the bits, so that subnormals count as what they are whatever the mode.
  // The parameter must be +0 or a finite normal float: p - 0 (the identity
  // transform's loop, see IdentityTransform) gives those back, flushing
  // subnormals or not, and for either sign of the learning rate. (A
  // subnormal comes back 0 when flushed; -0, infinities and NaNs would
  // mostly stay too, but such weights are rare enough to be left out.) The
  // state must be finite and >= 0, -0 included: above 0x7F7FFFFF are inf,
  // NaN and every value with its sign bit set.
#ifdef __AVX512F__
  // Each test is a range of the bits, so a running minimum and maximum per
  // lane take the place of compares (half the time of testing every vector).
  // rol(p, 1) moves the sign to bit 0: +0 -> 0, normal floats of either sign
  // -> [0x01000000, 0xFEFFFFFF], -0 and subnormals -> [1, 0x00FFFFFF],
  // infinities and NaNs -> [0xFF000000, 0xFFFFFFFF].
  // s ^ sign: -0 -> 0, +0 up to FLT_MAX -> [0x80000000, 0xFF7FFFFF],
  // negative values -> [1, 0x7FFFFFFF], +inf and NaNs -> [0xFF800000, ...].
  // In both, x - 1 (wrapping) sends the one good value at 0 to the top.
  const __m512i one = _mm512_set1_epi32(1), sign = _mm512_set1_epi32(int(0x80000000u));
  __m512i p_low = _mm512_set1_epi32(-1), p_high = _mm512_setzero_si512();
  __m512i s_low = _mm512_set1_epi32(-1), s_high = _mm512_setzero_si512();
  auto take = [&](__m512i p, __m512i s) {
    const __m512i rotated = _mm512_rol_epi32(p, 1), flipped = _mm512_xor_si512(s, sign);
    p_low = _mm512_min_epu32(p_low, _mm512_sub_epi32(rotated, one));
    p_high = _mm512_max_epu32(p_high, rotated);
    s_low = _mm512_min_epu32(s_low, _mm512_sub_epi32(flipped, one));
    s_high = _mm512_max_epu32(s_high, flipped);
  };
  Index i = 0;
  for (; i + 16 <= count; i += 16) take(_mm512_loadu_si512(params + i), _mm512_loadu_si512(decayed + i));
  if (i < count) {  // the tail's missing lanes read +0, which passes both tests
    const __mmask16 lanes = __mmask16((1u << (count - i)) - 1);
    take(_mm512_maskz_loadu_epi32(lanes, params + i), _mm512_maskz_loadu_epi32(lanes, decayed + i));
  }
  const __mmask16 rejected = _mm512_cmplt_epu32_mask(p_low, _mm512_set1_epi32(0x00FFFFFF)) |
                             _mm512_cmpge_epu32_mask(p_high, _mm512_set1_epi32(int(0xFF000000u))) |
                             _mm512_cmplt_epu32_mask(s_low, _mm512_set1_epi32(0x7FFFFFFF)) |
                             _mm512_cmpge_epu32_mask(s_high, _mm512_set1_epi32(int(0xFF800000u)));
  return rejected == 0;
#else
  std::uint32_t rejected = 0;
#pragma omp simd reduction(| : rejected)
  for (Index i = 0; i < count; ++i) {
    std::uint32_t p, s;
    std::memcpy(&p, params + i, sizeof p);
    std::memcpy(&s, decayed + i, sizeof s);
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
  decay_state(states_.at(decay.state).data() + offset, count, steps, decay);
  catch_up_other_states(offset, count, steps);
}

void Optimizer::apply_zero_steps(float* s, Index count, std::int64_t steps, const ZeroStepDecay& decay) {
  decay_state(s, count, steps, decay);
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
  // layer's rows of lit pixels come in runs of a few rows), each part in
  // pieces below the size where a loop starts threads of its own. The same
  // rule on the same values, so the same bits on any thread count.
  constexpr Index kPiece = kParallelMinElements / 2;
  auto share = [&](Index th, Index nt) {
    const Index from = covered * th / nt, to = covered * (th + 1) / nt;
    Index seen = 0;  // values in the ranges before range i
    for (std::size_t i = 0; i < count && seen < to; ++i) {
      const Index size = ranges[i].end - ranges[i].begin;
      const Index b = ranges[i].begin + std::max<Index>(0, from - seen), e = ranges[i].begin + std::min(size, to - seen);
      for (Index at = b; at < e; at += kPiece)
        update({params + at, grads + at, std::min(kPiece, e - at)}, at, base);
      seen += size;
    }
  };
  run_shares(covered >= kParallelMinElements ? num_threads() : 1, share);
  finish(t);
  ++iterations;
}

}  // namespace fastmlp
