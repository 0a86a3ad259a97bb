#include "optim/rmsprop.hpp"

#include <algorithm>
#include <cmath>

namespace fastmlp {
namespace {
// v - a^2 is a variance: >= 0 in exact arithmetic, clamped so that float
// rounding can never turn it into the root of a negative number.
inline float centered_variance(float v, float a) { return std::max(v - a * a, 0.0f); }
}  // namespace

std::vector<std::string> TorchRMSprop::state_names() const {
  std::vector<std::string> names{"square_avg"};
  if (momentum > 0) names.push_back("momentum_buffer");
  if (centered) names.push_back("grad_avg");
  return names;
}

void TorchRMSprop::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    std::size_t next = 0;
    float* v = state(next++) + offset;
    float* b = momentum > 0 ? state(next++) + offset : nullptr;
    float* a = centered ? state(next++) + offset : nullptr;
    const float al = float(alpha), one_minus = float(1 - alpha), e = float(eps);
    const float lr = float(learning_rate), mu = float(momentum);
    with_option(a != nullptr, [&](auto is_centered) {
      with_option(b != nullptr, [&](auto has_momentum) {
        fused_loop(s, [=](Index i) {
          const float gi = t.grad(g[i], p[i]);
          const float vi = al * v[i] + one_minus * gi * gi;
          v[i] = vi;
          float var = vi;
          if constexpr (decltype(is_centered)::value) {
            const float ai = torch_lerp(a[i], gi, one_minus);
            a[i] = ai;
            var = centered_variance(vi, ai);
          }
          const float d = std::sqrt(var) + e;
          float step;
          if constexpr (decltype(has_momentum)::value) {
            const float bi = mu * b[i] + gi / d;
            b[i] = bi;
            step = lr * bi;
          } else {
            step = lr * gi / d;
          }
          p[i] = t.decayed(p[i]) - step;
        });
      });
    });
  });
}

std::vector<std::string> KerasRMSprop::state_names() const {
  std::vector<std::string> names{"velocity"};
  if (momentum > 0) names.push_back("momentum");
  if (centered) names.push_back("average_gradient");
  return names;
}

void KerasRMSprop::update(const Span& s, Index offset, const GradientTransform& transform) {
  with_transform(transform, [&](auto t) {
    float* p = s.params;
    const float* g = s.grads;
    std::size_t next = 0;
    float* v = state(next++) + offset;
    float* m = momentum > 0 ? state(next++) + offset : nullptr;
    float* a = centered ? state(next++) + offset : nullptr;
    const float r = float(rho), one_minus = float(1 - rho), e = float(epsilon);
    const float lr = float(learning_rate), mu = float(momentum);
    with_option(a != nullptr, [&](auto is_centered) {
      with_option(m != nullptr, [&](auto has_momentum) {
        fused_loop(s, [=](Index i) {
          const float gi = t.grad(g[i], p[i]);
          const float vi = r * v[i] + one_minus * gi * gi;
          v[i] = vi;
          float var = vi;
          if constexpr (decltype(is_centered)::value) {
            const float ai = r * a[i] + one_minus * gi;
            a[i] = ai;
            var = centered_variance(vi, ai);
          }
          const float inc = lr * gi / std::sqrt(var + e);
          float step = inc;
          if constexpr (decltype(has_momentum)::value) {
            step = mu * m[i] + inc;
            m[i] = step;
          }
          p[i] = t.decayed(p[i]) - step;
        });
      });
    });
  });
}

}  // namespace fastmlp
