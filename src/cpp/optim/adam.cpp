#include "optim/adam.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace fastmlp {
namespace {
// Whether a zero step leaves each weight p[i] as it is, now and at every
// step to come while its m[i] only decays, so that only the moments change:
// - m is settled: the zero step `next` gives back its bits, and step * m
//   rounds to +-0 for every |step| <= |bound| (rounding is monotone); or,
// - where m's zero steps are replayed at the catch-up (`replays_m`), p is a
//   normal float and |m| * bound / eps, doubled for the roundings of
//   step * m / d (d >= eps), stays under a quarter of p's last place (its
//   exponent 26 below p's): each step's change to p is at most that and
//   rounds away, on either side of p, and |m| only shrinks.
// Stops at the first 16 values where one fails: a row that has not settled
// mostly fails at once.
template <class Next>
bool moments_settled(const float* p, const float* m, Index count, float bound, float eps, bool replays_m,
                     Next next) {
  const float scale = 2 * bound / eps;
  auto bits = [](float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
  };
  for (Index b = 0; b < count; b += 16) {
    const Index e = std::min(count, b + 16);
    int unsettled = 0;
#pragma omp simd reduction(| : unsettled)
    for (Index i = b; i < e; ++i) {
      const float mi = m[i];
      const bool fixed = bits(next(mi)) == bits(mi) && bound * mi == 0.0f;
      const std::uint32_t p_exponent = (bits(p[i]) >> 23) & 0xFF, change_exponent = (bits(std::abs(mi) * scale) >> 23) & 0xFF;
      const bool rounds_away = replays_m && p_exponent >= 1 && p_exponent <= 254 && change_exponent + 26 <= p_exponent;
      unsettled |= int(!(fixed || rounds_away));
    }
    if (unsettled) return false;
  }
  return true;
}

// Adam's largest step size from step t on, from bias1 = 1 - b1^t, within a
// factor of 2 (the float constants round): lr / bias1 for both conventions
// (Keras's also times sqrt(1 - b2^t) <= 1), and bias1 grows with t.
float adam_step_bound(double learning_rate_bound, double bias1) {
  return float(2 * learning_rate_bound / bias1);
}

// The settings under which Adam's zero steps can be deferred: beta1 in
// [0, 1) (the bound above), the state's decay in [0, 1], eps > 0 as a
// float, so that sqrt(v) (/ sqrt(1 - b2^t)) + eps > 0 and 0 / it is 0.
bool adam_defers(bool amsgrad, double beta1, double beta2, double eps) {
  return !amsgrad && beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 <= 1 && float(eps) > 0;
}
}  // namespace

std::vector<std::string> TorchAdam::state_names() const {
  if (amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void TorchAdam::prepare(std::int64_t t) {
  const double bias1 = 1.0 - std::pow(beta1, double(t));
  step_size_ = float(learning_rate / bias1);
  inv_bias2_sqrt_ = float(1.0 / std::sqrt(1.0 - std::pow(beta2, double(t))));
  step_bound_ = adam_step_bound(learning_rate_bound(), bias1);
}

bool TorchAdam::zero_step_decay(ZeroStepDecay& decay) const {
  // b2 < 1: 1 / sqrt(1 - b2^t) must stay finite.
  if (!adam_defers(amsgrad, beta1, beta2, eps) || !(beta2 < 1)) return false;
  const float zero = 0.0f;
  decay.state = 1;  // v <- b2 v + (1 - b2) g^2 at g = +0, rounded as update() rounds it
  decay.factor = float(beta2);
  decay.addend = float(1 - beta2) * zero * zero;
  return true;
}

// torch_lerp(m, 0, w1) is m + w1 (0 - m), Keras's form, for w1 < 0.5.
bool TorchAdam::replays_m() const { return float(1 - beta1) < 0.5f; }

bool TorchAdam::zero_step_settled(const float* params, Index offset, Index count) const {
  const float w1 = float(1 - beta1), zero = 0.0f;
  return moments_settled(params, state(0) + offset, count, step_bound_, float(eps), replays_m(),
                         [=](float m) { return torch_lerp(m, zero, w1); });
}

void TorchAdam::catch_up_other_states(Index offset, Index count, std::int64_t steps) {
  if (!replays_m()) return;  // then every m deferred is at its fixed point
  ZeroStepDecay m_decay;     // m <- m + (1 - b1)(0 - m), as update() rounds it at g = +0
  m_decay.lerp = true;
  m_decay.weight = float(1 - beta1);
  apply_zero_steps(state(0) + offset, count, steps, m_decay);
}

void TorchAdam::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* m = state(0) + offset;
    float* v = state(1) + offset;
    float* vmax = amsgrad ? state(2) + offset : nullptr;
    const float w1 = float(1 - beta1), b2 = float(beta2), w2 = float(1 - beta2), e = float(eps);
    const float step = step_size_, inv_bc2 = inv_bias2_sqrt_;
    with_option(amsgrad, [&](auto ams) {
      fused_loop(s, [=](Index i) {
        const float gi = t.grad(g[i], p[i]);
        const float mi = torch_lerp(m[i], gi, w1);
        float vi = b2 * v[i] + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if constexpr (decltype(ams)::value) {
          vi = std::max(vmax[i], vi);
          vmax[i] = vi;
        }
        p[i] = t.decayed(p[i]) - step * mi / (std::sqrt(vi) * inv_bc2 + e);
      });
    });
  });
}

std::vector<std::string> KerasAdam::state_names() const {
  if (amsgrad) return {"momentum", "velocity", "velocity_hat"};
  return {"momentum", "velocity"};
}

void KerasAdam::prepare(std::int64_t t) {
  const double bias1 = 1.0 - std::pow(beta1, double(t));
  alpha_ = float(learning_rate * std::sqrt(1.0 - std::pow(beta2, double(t))) / bias1);
  step_bound_ = adam_step_bound(learning_rate_bound(), bias1);
}

bool KerasAdam::zero_step_decay(ZeroStepDecay& decay) const {
  if (!adam_defers(amsgrad, beta1, beta2, epsilon)) return false;
  const float zero = 0.0f;
  decay.state = 1;  // v <- v + (1 - b2)(g^2 - v) at g = +0, rounded as update() rounds it
  decay.lerp = true;
  decay.weight = float(1 - beta2);
  decay.target = zero * zero;
  return true;
}

bool KerasAdam::zero_step_settled(const float* params, Index offset, Index count) const {
  const float w1 = float(1 - beta1), zero = 0.0f;
  return moments_settled(params, state(0) + offset, count, step_bound_, float(epsilon), /*replays_m=*/true,
                         [=](float m) { return m + w1 * (zero - m); });
}

void KerasAdam::catch_up_other_states(Index offset, Index count, std::int64_t steps) {
  ZeroStepDecay m_decay;  // m <- m + (1 - b1)(0 - m), as update() rounds it at g = +0
  m_decay.lerp = true;
  m_decay.weight = float(1 - beta1);
  apply_zero_steps(state(0) + offset, count, steps, m_decay);
}

void KerasAdam::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* m = state(0) + offset;
    float* v = state(1) + offset;
    float* vhat = amsgrad ? state(2) + offset : nullptr;
    const float w1 = float(1 - beta1), w2 = float(1 - beta2), e = float(epsilon), alpha = alpha_;
    with_option(amsgrad, [&](auto ams) {
      fused_loop(s, [=](Index i) {
        const float gi = t.grad(g[i], p[i]);
        const float mi = m[i] + w1 * (gi - m[i]);
        float vi = v[i] + w2 * (gi * gi - v[i]);
        m[i] = mi;
        v[i] = vi;
        if constexpr (decltype(ams)::value) {
          vi = std::max(vhat[i], vi);
          vhat[i] = vi;
        }
        p[i] = t.decayed(p[i]) - alpha * mi / (std::sqrt(vi) + e);
      });
    });
  });
}

}  // namespace fastmlp
