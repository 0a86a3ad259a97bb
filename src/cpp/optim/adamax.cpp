#include "optim/adamax.hpp"

#include <algorithm>
#include <cmath>

namespace fastmlp {

void TorchAdamax::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* m = state(0) + offset;
    float* u = state(1) + offset;
    const float w1 = float(1 - beta1), b2 = float(beta2), e = float(eps);
    const float clr = float(learning_rate / (1.0 - std::pow(beta1, double(iterations + 1))));
    fused_loop(s, [=](Index i) {
      const float gi = t.grad(g[i], p[i]);
      const float mi = torch_lerp(m[i], gi, w1);
      const float ui = std::max(b2 * u[i], std::abs(gi) + e);
      m[i] = mi;
      u[i] = ui;
      p[i] = t.decayed(p[i]) - clr * mi / ui;
    });
  });
}

void KerasAdamax::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* m = state(0) + offset;
    float* u = state(1) + offset;
    const float w1 = float(1 - beta1), b2 = float(beta2), e = float(epsilon);
    const float lr = float(learning_rate);
    const float bias1 = float(1.0 - std::pow(beta1, double(iterations + 1)));
    fused_loop(s, [=](Index i) {
      const float gi = t.grad(g[i], p[i]);
      const float mi = m[i] + w1 * (gi - m[i]);
      const float ui = std::max(b2 * u[i], std::abs(gi));
      m[i] = mi;
      u[i] = ui;
      p[i] = t.decayed(p[i]) - lr * mi / (bias1 * (ui + e));
    });
  });
}

}  // namespace fastmlp
