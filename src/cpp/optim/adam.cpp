#include "optim/adam.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace fastmlp {
namespace {
// Whether each of m[0, count) is settled: the zero step `next` gives back
// its bits, and step * m rounds to +-0 for every |step| <= |bound| (rounding
// is monotone), so that p - step * m / d is p. Stops at the first 16 values
// where one is not: a row that has not settled mostly fails at once.
template <class Next>
bool moment_settled(const float* m, Index count, float bound, Next next) {
  for (Index b = 0; b < count; b += 16) {
    const Index e = std::min(count, b + 16);
    int unsettled = 0;
#pragma omp simd reduction(| : unsettled)
    for (Index i = b; i < e; ++i) {
      const float mi = m[i], after = next(mi);
      std::uint32_t before_bits, after_bits;
      std::memcpy(&before_bits, &mi, sizeof mi);
      std::memcpy(&after_bits, &after, sizeof after);
      unsettled |= int(after_bits != before_bits) | int(bound * mi != 0.0f);
    }
    if (unsettled) return false;
  }
  return true;
}

// Adam's largest step size from step t on, within a factor of 2 (the
// float constants round): lr / (1 - b1^t) for both conventions (Keras's
// also times sqrt(1 - b2^t) <= 1), and 1 - b1^t grows with t.
float adam_step_bound(double learning_rate_bound, double beta1, std::int64_t t) {
  return float(2 * learning_rate_bound / (1 - std::pow(beta1, double(t))));
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
  step_size_ = float(learning_rate / (1.0 - std::pow(beta1, double(t))));
  inv_bias2_sqrt_ = float(1.0 / std::sqrt(1.0 - std::pow(beta2, double(t))));
  step_bound_ = adam_step_bound(learning_rate_bound(), beta1, t);
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

bool TorchAdam::zero_step_settled(Index offset, Index count) const {
  const float w1 = float(1 - beta1), zero = 0.0f;
  return moment_settled(state(0) + offset, count, step_bound_,
                        [=](float m) { return torch_lerp(m, zero, w1); });
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
  alpha_ = float(learning_rate * std::sqrt(1.0 - std::pow(beta2, double(t))) /
                 (1.0 - std::pow(beta1, double(t))));
  step_bound_ = adam_step_bound(learning_rate_bound(), beta1, t);
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

bool KerasAdam::zero_step_settled(Index offset, Index count) const {
  const float w1 = float(1 - beta1), zero = 0.0f;
  return moment_settled(state(0) + offset, count, step_bound_,
                        [=](float m) { return m + w1 * (zero - m); });
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
