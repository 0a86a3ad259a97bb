#include "fast/zero_step_deferral.hpp"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "runtime/parallel.hpp"

namespace fastmlp {
namespace {
std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// The map of a ZeroStepMap, `steps` times over s[0, count), each step
// rounded as the rules round it: factor * s + addend (a product, then a sum;
// no fused multiply-add). A block of values stops at the first tested step
// that leaves every one of them as it was: each is then at a fixed point of
// the map, and the steps left would leave it too (often 0, where an input
// never lights).
#ifdef __AVX512F__
// How many steps run between fixed-point tests: a test costs a compare per
// vector, a step a multiply and an add.
constexpr std::int64_t kStepsPerTest = 8;
constexpr int kBlockVectors = 20;

// V vectors (the last one masked by `last`) held in registers through all
// their steps: a row of 300 values is one block.
template <int V>
void map_block(float* s, __mmask16 last, std::int64_t steps, const Optimizer::ZeroStepMap& map) {
  const __m512 f = _mm512_set1_ps(map.factor), a = _mm512_set1_ps(map.addend);
  __m512 v[V];
#pragma GCC unroll 20
  for (int j = 0; j < V; ++j) v[j] = _mm512_maskz_loadu_ps(j == V - 1 ? last : __mmask16(0xFFFF), s + 16 * j);
  // Masked-off lanes hold +0, which the maps of the rules leave as it is.
  auto step = [&](__mmask16* changed) {
#pragma GCC unroll 20
    for (int j = 0; j < V; ++j) {
      const __m512 next = _mm512_add_ps(_mm512_mul_ps(v[j], f), a);
      if (changed) *changed |= _mm512_cmp_ps_mask(next, v[j], _CMP_NEQ_UQ);
      v[j] = next;
    }
  };
  for (std::int64_t done = 0; done < steps;) {
    const std::int64_t burst = std::min(kStepsPerTest, steps - done);
    for (std::int64_t k = 1; k < burst; ++k) step(nullptr);
    __mmask16 changed = 0;
    step(&changed);
    done = changed ? done + burst : steps;
  }
#pragma GCC unroll 20
  for (int j = 0; j < V; ++j) _mm512_mask_storeu_ps(s + 16 * j, j == V - 1 ? last : __mmask16(0xFFFF), v[j]);
}

using MapBlock = void (*)(float*, __mmask16, std::int64_t, const Optimizer::ZeroStepMap&);
template <int... V>
constexpr std::array<MapBlock, sizeof...(V)> map_blocks(std::integer_sequence<int, V...>) {
  return {&map_block<V + 1>...};
}

void apply_map(float* s, Index count, std::int64_t steps, const Optimizer::ZeroStepMap& map) {
  static constexpr auto blocks = map_blocks(std::make_integer_sequence<int, kBlockVectors>{});
  for (Index b = 0; b < count; b += 16 * kBlockVectors) {
    const Index size = std::min<Index>(16 * kBlockVectors, count - b);
    const int vectors = int((size + 15) / 16);
    const __mmask16 last = __mmask16((1u << (size - 16 * (vectors - 1))) - 1);
    blocks[vectors - 1](s + b, last, steps, map);
  }
}
#else
void apply_map(float* s, Index count, std::int64_t steps, const Optimizer::ZeroStepMap& map) {
  constexpr Index kBlock = 512;
  alignas(64) float v[kBlock];
  for (Index b = 0; b < count; b += kBlock) {
    const Index m = std::min(kBlock, count - b);
    std::copy(s + b, s + b + m, v);
    for (std::int64_t k = 0; k < steps; ++k) {
      int changed = 0;
#pragma omp simd reduction(| : changed)
      for (Index i = 0; i < m; ++i) {
        const float next = map.factor * v[i] + map.addend;
        changed |= int(next != v[i]);
        v[i] = next;
      }
      if (!changed) break;
    }
    std::copy(v, v + m, s + b);
  }
}
#endif
}  // namespace

void ZeroStepDeferral::attach(Index rows, Index width) {
  width_ = width;
  steps_.assign(std::size_t(rows), 0);
  may_defer_.assign(std::size_t(rows), 0);
}

bool ZeroStepDeferral::allowed(const Network& network, const GradientTransform& transform, float lr) const {
  const Optimizer& optimizer = network.optimizer();
  Optimizer::ZeroStepMap map;
  return network.in_epoch() && !steps_.empty() && optimizer.zero_step_map(map) && map.state < optimizer.num_states() &&
         transform.is_identity() && std::isfinite(lr);
}

void ZeroStepDeferral::vet(Network& network, Index k) {
  const Optimizer& optimizer = network.optimizer();
  const Index at = network.param_offset(0) + k * width_;
  const float* p = network.params() + at;
  // On the bits, so that subnormals count as what they are whatever the mode:
  // a weight must be 0 or normal (exponent neither 0 nor 255), the state finite.
  std::uint32_t bad = 0;
#pragma omp simd reduction(| : bad)
  for (Index i = 0; i < width_; ++i) {
    const std::uint32_t u = bits(p[i]), exponent = (u >> 23) & 0xFFu;
    bad |= std::uint32_t((u & 0x7FFFFFFFu) != 0) & (std::uint32_t(exponent == 0) | std::uint32_t(exponent == 0xFFu));
  }
  Optimizer::ZeroStepMap map;
  optimizer.zero_step_map(map);
  const float* state = optimizer.state(map.state) + at;
  // Finite and >= 0, -0 included: above 0x7F7FFFFF are inf, NaN and every
  // value with its sign bit set.
#pragma omp simd reduction(| : bad)
  for (Index i = 0; i < width_; ++i) {
    const std::uint32_t u = bits(state[i]);
    bad |= std::uint32_t(u > 0x7F7FFFFFu) & std::uint32_t(u != 0x80000000u);
  }
  may_defer_[k] = bad == 0;
}

void ZeroStepDeferral::catch_up(Network& network, Index k) {
  if (steps_[k] > 0) replay(network, k);
  may_defer_[k] = 0;
}

void ZeroStepDeferral::replay(Network& network, Index k) {
  Optimizer& optimizer = network.optimizer();
  Optimizer::ZeroStepMap map;
  optimizer.zero_step_map(map);  // the map the held-back steps had: settings change between epochs only
  apply_map(optimizer.state(map.state) + network.param_offset(0) + k * width_, width_, steps_[k], map);
  steps_[k] = 0;
}

void ZeroStepDeferral::settle(Network& network) {
  if (!holding_) {
    std::fill(may_defer_.begin(), may_defer_.end(), std::uint8_t(0));
    return;
  }
  const Index rows = Index(steps_.size());
  run_shares(num_threads(), [&](Index t, Index nt) {
    for (Index k = rows * t / nt, end = rows * (t + 1) / nt; k < end; ++k) catch_up(network, k);
  });
  holding_ = false;
}

}  // namespace fastmlp
