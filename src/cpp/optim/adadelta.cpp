#include "optim/adadelta.hpp"

#include <cmath>

namespace fastmlp {

void Adadelta::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    float* v = state(0) + offset;
    float* u = state(1) + offset;
    const float r = float(rho), w = float(1 - rho), e = float(eps), lr = float(learning_rate);
    fused_loop(s, [=](Index i) {
      const float gi = t.grad(g[i], p[i]);
      const float vi = r * v[i] + w * gi * gi;
      const float d = std::sqrt(u[i] + e) / std::sqrt(vi + e) * gi;
      v[i] = vi;
      u[i] = r * u[i] + w * d * d;
      p[i] = t.decayed(p[i]) - lr * d;
    });
  });
}

}  // namespace fastmlp
