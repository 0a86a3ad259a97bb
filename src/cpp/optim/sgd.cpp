#include "optim/sgd.hpp"

namespace fastmlp {

namespace {
// p <- p - lr * g, after the transform: both frameworks' SGD without momentum.
void plain_update(const Span& s, const GradientTransform& t, float lr) {
  float* p = s.params;
  const float* g = s.grads;
  fused_loop(s.size, [=](Index i) { p[i] = t.decayed(p[i]) - lr * t.grad(g[i], p[i]); });
}
}  // namespace

void sgd_step(float* params, const float* grads, Index n, float lr) {
  // The identity transform changes no bit: g * 1, g + 0 * p and p * 1 - p * 0 are exact.
  plain_update({params, grads, n}, GradientTransform{}, lr);
}

void TorchSGD::update(const Span& s, Index offset, const GradientTransform& t) {
  float* p = s.params;
  const float* g = s.grads;
  const float lr = float(learning_rate);
  if (momentum == 0) return plain_update(s, t, lr);
  float* b = state(0) + offset;
  const float mu = float(momentum), keep = float(1 - dampening);
  with_option(iterations == 0, [&](auto first) {
    with_option(nesterov, [&](auto nest) {
      fused_loop(s.size, [=](Index i) {
        const float gi = t.grad(g[i], p[i]);
        const float bi = decltype(first)::value ? gi : mu * b[i] + keep * gi;
        b[i] = bi;
        p[i] = t.decayed(p[i]) - lr * (decltype(nest)::value ? gi + mu * bi : bi);
      });
    });
  });
}

void KerasSGD::update(const Span& s, Index offset, const GradientTransform& t) {
  float* p = s.params;
  const float* g = s.grads;
  const float lr = float(learning_rate);
  if (momentum == 0) return plain_update(s, t, lr);
  float* m = state(0) + offset;
  const float mu = float(momentum);
  with_option(nesterov, [&](auto nest) {
    fused_loop(s.size, [=](Index i) {
      const float gi = t.grad(g[i], p[i]);
      const float mi = mu * m[i] - lr * gi;
      m[i] = mi;
      p[i] = t.decayed(p[i]) + (decltype(nest)::value ? mu * mi - lr * gi : mi);
    });
  });
}

}  // namespace fastmlp
