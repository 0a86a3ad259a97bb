// RMSprop in both conventions.
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

// torch.optim.RMSprop:
//   v <- alpha v + (1 - alpha) g^2;  centered: a <- alpha a + (1 - alpha) g, v~ = v - a^2
//   d = sqrt(v~) + eps;  momentum: b <- momentum b + g / d, p <- p - lr b;  else p <- p - lr g / d
class TorchRMSprop final : public Optimizer {
 public:
  std::string name() const override { return "torch.RMSprop"; }
  std::vector<std::string> state_names() const override;
  double alpha = 0.99, eps = 1e-8, momentum = 0;
  bool centered = false;

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

 protected:
  void update(const Span& s, Index offset, const GradientTransform& t) override;
};

}  // namespace fastmlp
