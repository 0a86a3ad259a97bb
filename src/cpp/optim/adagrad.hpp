// Adagrad in both conventions (they differ in where epsilon goes, the
// accumulator's start and PyTorch's learning-rate decay).
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

// torch.optim.Adagrad:  clr = lr / (1 + (t - 1) lr_decay);  s <- s + g^2;
//                       p <- p - clr * g / (sqrt(s) + eps)
class TorchAdagrad final : public Optimizer {
 public:
  std::string name() const override { return "torch.Adagrad"; }
  std::vector<std::string> state_names() const override { return {"sum"}; }
  double lr_decay = 0, initial_accumulator_value = 0, eps = 1e-10;
  // g = +0: s <- s + 0 0, and the step clr g / (sqrt(s) + eps) is +0.
  bool zero_step_map(ZeroStepMap& map) const override {
    map = {0, 1.0f, 0.0f * 0.0f};
    return lr_decay >= 0 && float(eps) > 0;  // clr stays finite
  }

 protected:
  float initial_state(std::size_t) const override { return float(initial_accumulator_value); }
  void update(const Span& s, Index offset, const GradientTransform& t) override;
};

// keras.optimizers.Adagrad:  a <- a + g^2;  p <- p - lr * g / sqrt(a + epsilon)
class KerasAdagrad final : public Optimizer {
 public:
  std::string name() const override { return "keras.Adagrad"; }
  std::vector<std::string> state_names() const override { return {"accumulator"}; }
  double initial_accumulator_value = 0.1, epsilon = 1e-7;
  // g = +0: a <- a + 0 0, and the step lr g / sqrt(a + epsilon) is +0.
  bool zero_step_map(ZeroStepMap& map) const override {
    map = {0, 1.0f, 0.0f * 0.0f};
    return float(epsilon) > 0;
  }

 protected:
  float initial_state(std::size_t) const override { return float(initial_accumulator_value); }
  void update(const Span& s, Index offset, const GradientTransform& t) override;
};

}  // namespace fastmlp
