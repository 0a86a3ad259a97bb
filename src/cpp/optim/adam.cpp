#include "optim/adam.hpp"

#include <algorithm>
#include <cmath>

namespace fastmlp {
std::vector<std::string> TorchAdam::state_names() const {
  if (amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void TorchAdam::prepare(std::int64_t t) {
  step_size_ = float(learning_rate / (1.0 - std::pow(beta1, double(t))));
  inv_bias2_sqrt_ = float(1.0 / std::sqrt(1.0 - std::pow(beta2, double(t))));
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
  alpha_ = float(learning_rate * std::sqrt(1.0 - std::pow(beta2, double(t))) / (1.0 - std::pow(beta1, double(t))));
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
