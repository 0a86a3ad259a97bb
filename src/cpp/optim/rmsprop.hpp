// RMSprop in both conventions.
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

// Both conventions' map of a step on a +0 gradient without momentum or
// centering: v <- a v + (1 - a) 0 0, rounded as update() rounds it.
inline bool plain_zero_step(double decay_rate, double eps, Optimizer::ZeroStepMap& map) {
  map = {0, float(decay_rate), float(1 - decay_rate) * 0.0f * 0.0f};
  return decay_rate >= 0 && decay_rate <= 1 && float(eps) > 0;
}

// torch.optim.RMSprop:
//   v <- alpha v + (1 - alpha) g^2;  centered: a <- alpha a + (1 - alpha) g, v~ = v - a^2
//   d = sqrt(v~) + eps;  momentum: b <- momentum b + g / d, p <- p - lr b;  else p <- p - lr g / d
class TorchRMSprop final : public Optimizer {
 public:
  std::string name() const override { return "torch.RMSprop"; }
  std::vector<std::string> state_names() const override;
  double alpha = 0.99, eps = 1e-8, momentum = 0;
  bool centered = false;
  // g = +0: v <- alpha v + (1 - alpha) 0 0, and the step g / d is +0 (d > 0).
  bool zero_step_map(ZeroStepMap& map) const override {
    return !(momentum > 0) && !centered && plain_zero_step(alpha, eps, map);
  }

 protected:
  void update(const Span& s, Index offset, const GradientTransform& t) override;
};

// keras.optimizers.RMSprop (epsilon inside the root, lr inside the momentum):
//   v <- rho v + (1 - rho) g^2;  centered: a <- rho a + (1 - rho) g, v~ = v - a^2
//   inc = lr g / sqrt(v~ + epsilon);  momentum: m <- momentum m + inc, p <- p - m;  else p <- p - inc
class KerasRMSprop final : public Optimizer {
 public:
  std::string name() const override { return "keras.RMSprop"; }
  std::vector<std::string> state_names() const override;
  double rho = 0.9, epsilon = 1e-7, momentum = 0;
  bool centered = false;
  // g = +0: v <- rho v + (1 - rho) 0 0, and inc = lr g / sqrt(v + epsilon) is +0.
  bool zero_step_map(ZeroStepMap& map) const override {
    return !(momentum > 0) && !centered && plain_zero_step(rho, epsilon, map);
  }

 protected:
  void update(const Span& s, Index offset, const GradientTransform& t) override;
};

}  // namespace fastmlp
