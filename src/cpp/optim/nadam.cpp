#include "optim/nadam.hpp"

#include <cmath>

namespace fastmlp {

void TorchNAdam::prepare(std::int64_t t) {
  const double mu = beta1 * (1.0 - 0.5 * std::pow(0.96, double(t) * momentum_decay));
  const double mu_next = beta1 * (1.0 - 0.5 * std::pow(0.96, double(t + 1) * momentum_decay));
  next_product_ = mu_product * mu;
  grad_coef_ = float(learning_rate * (1.0 - mu) / (1.0 - next_product_));
  momentum_coef_ = float(learning_rate * mu_next / (1.0 - next_product_ * mu_next));
  inv_bias2_ = float(1.0 / (1.0 - std::pow(beta2, double(t))));
}

void TorchNAdam::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* m = state(0) + offset;
    float* v = state(1) + offset;
    const float w1 = float(1 - beta1), b2 = float(beta2), w2 = float(1 - beta2), e = float(eps);
    const float cg = grad_coef_, cm = momentum_coef_, inv_bc2 = inv_bias2_;
    fused_loop(s, [=](Index i) {
      const float gi = t.grad(g[i], p[i]);
      const float mi = torch_lerp(m[i], gi, w1);
      const float vi = b2 * v[i] + w2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      const float d = std::sqrt(vi * inv_bc2) + e;
      p[i] = t.decayed(p[i]) - (cg * gi + cm * mi) / d;
    });
  });
}

void KerasNadam::prepare(std::int64_t t) {
  const double u_t = beta1 * (1.0 - 0.5 * std::pow(0.96, double(t)));
  const double u_next = beta1 * (1.0 - 0.5 * std::pow(0.96, double(t + 1)));
  next_product_ = u_product * u_t;
  momentum_coef_ = float(u_next / (1.0 - next_product_ * u_next));
  grad_coef_ = float((1.0 - u_t) / (1.0 - next_product_));
  inv_bias2_ = float(1.0 / (1.0 - std::pow(beta2, double(t))));
}

void KerasNadam::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* m = state(0) + offset;
    float* v = state(1) + offset;
    const float w1 = float(1 - beta1), w2 = float(1 - beta2), e = float(epsilon);
    const float lr = float(learning_rate), cm = momentum_coef_, cg = grad_coef_, inv_bc2 = inv_bias2_;
    fused_loop(s, [=](Index i) {
      const float gi = t.grad(g[i], p[i]);
      const float mi = m[i] + w1 * (gi - m[i]);
      const float vi = v[i] + w2 * (gi * gi - v[i]);
      m[i] = mi;
      v[i] = vi;
      const float m_hat = cm * mi + cg * gi;
      p[i] = t.decayed(p[i]) - lr * m_hat / (std::sqrt(vi * inv_bc2) + e);
    });
  });
}

}  // namespace fastmlp
