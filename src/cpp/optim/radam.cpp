#include "optim/radam.hpp"

#include <cmath>

namespace fastmlp {

void TorchRAdam::prepare(std::int64_t t) {
  const double bias1 = 1.0 - std::pow(beta1, double(t));
  const double beta2_t = std::pow(beta2, double(t));
  const double bias2 = 1.0 - beta2_t;
  const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
  const double rho_t = rho_inf - 2.0 * double(t) * beta2_t / bias2;
  rectified_ = rho_t > 5.0;
  momentum_coef_ = float(learning_rate / bias1);
  if (rectified_) {
    const double r = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
    adaptive_coef_ = float(r * std::sqrt(bias2));
  }
}

void TorchRAdam::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* m = state(0) + offset;
    float* v = state(1) + offset;
    const float w1 = float(1 - beta1), b2 = float(beta2), w2 = float(1 - beta2), e = float(eps);
    const float cm = momentum_coef_, ca = adaptive_coef_;
    with_option(rectified_, [&](auto rectified) {
      fused_loop(s, [=](Index i) {
        const float gi = t.grad(g[i], p[i]);
        const float mi = torch_lerp(m[i], gi, w1);
        const float vi = b2 * v[i] + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        const float step = decltype(rectified)::value ? cm * mi * ca / (std::sqrt(vi) + e) : cm * mi;
        p[i] = t.decayed(p[i]) - step;
      });
    });
  });
}

}  // namespace fastmlp
