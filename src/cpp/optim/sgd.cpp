#include "optim/sgd.hpp"

namespace fastmlp {

namespace {
// p <- p - lr * g, after the transform: both frameworks' SGD without momentum.
// Its loop is light enough that plain stores keep up (claiming the lines
// ahead, as fused_loop(span, ...) does, made its training steps slower).
template <class Transform>
void plain_update(const Span& s, Transform t, float lr) {
  float* p = s.params;
  const float* g = s.grads;
  const PlainSgdRule<Transform> rule{t, lr};
  fused_loop(s.size, [=](Index i) { p[i] = rule.apply(p[i], g[i]); });
}
}  // namespace

void sgd_step(float* params, const float* grads, Index n, float lr) {
  plain_update({params, grads, n}, IdentityTransform{}, lr);
}

void TorchSGD::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    const float lr = float(learning_rate);
    if (momentum == 0) return plain_update(s, t, lr);
    float* b = state(0) + offset;
    const float mu = float(momentum), keep = float(1 - dampening);
    with_option(iterations == 0, [&](auto first) {
      with_option(nesterov, [&](auto nest) {
        fused_loop(s, [=](Index i) {
          const float gi = t.grad(g[i], p[i]);
          const float bi = decltype(first)::value ? gi : mu * b[i] + keep * gi;
          b[i] = bi;
          p[i] = t.decayed(p[i]) - lr * (decltype(nest)::value ? gi + mu * bi : bi);
        });
      });
    });
  });
}

void KerasSGD::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    const float lr = float(learning_rate);
    if (momentum == 0) return plain_update(s, t, lr);
    float* m = state(0) + offset;
    const float mu = float(momentum);
    with_option(nesterov, [&](auto nest) {
      fused_loop(s, [=](Index i) {
        const float gi = t.grad(g[i], p[i]);
        const float mi = mu * m[i] - lr * gi;
        m[i] = mi;
        p[i] = t.decayed(p[i]) + (decltype(nest)::value ? mu * mi - lr * gi : mi);
      });
    });
  });
}

}  // namespace fastmlp
