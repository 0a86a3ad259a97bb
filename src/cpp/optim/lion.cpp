#include "optim/lion.hpp"

namespace fastmlp {

void Lion::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* m = state(0) + offset;
    const float b1 = float(beta1), w1 = float(1 - beta1), b2 = float(beta2), w2 = float(1 - beta2);
    const float lr = float(learning_rate);
    fused_loop(s, [=](Index i) {
      const float gi = t.grad(g[i], p[i]);
      const float c = b1 * m[i] + w1 * gi;
      const float sign = float(c > 0.0f) - float(c < 0.0f);
      m[i] = b2 * m[i] + w2 * gi;
      p[i] = t.decayed(p[i]) - lr * sign;
    });
  });
}

}  // namespace fastmlp
