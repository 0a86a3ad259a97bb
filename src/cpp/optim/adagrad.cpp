#include "optim/adagrad.hpp"

#include <cmath>

namespace fastmlp {

void TorchAdagrad::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* sum = state(0) + offset;
    const float clr = float(learning_rate / (1.0 + double(iterations) * lr_decay));
    const float e = float(eps);
    fused_loop(s, [=](Index i) {
      const float gi = t.grad(g[i], p[i]);
      const float si = sum[i] + gi * gi;
      sum[i] = si;
      p[i] = t.decayed(p[i]) - clr * gi / (std::sqrt(si) + e);
    });
  });
}

void KerasAdagrad::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* acc = state(0) + offset;
    const float lr = float(learning_rate), e = float(epsilon);
    fused_loop(s, [=](Index i) {
      const float gi = t.grad(g[i], p[i]);
      const float ai = acc[i] + gi * gi;
      acc[i] = ai;
      p[i] = t.decayed(p[i]) - lr * gi / std::sqrt(ai + e);
    });
  });
}

}  // namespace fastmlp
