// Adamax (Adam with the infinity norm) in both conventions.
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

// torch.optim.Adamax:  m <- m + (1 - b1)(g - m);  u <- max(b2 u, |g| + eps)
//                      p <- p - lr / (1 - b1^t) * m / u
class TorchAdamax final : public Optimizer {
 public:
  std::string name() const override { return "torch.Adamax"; }
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_inf"}; }
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;

 protected:
  void update(const Span& s, Index offset, const GradientTransform& t) override;
};

// keras.optimizers.Adamax:  m <- m + (1 - b1)(g - m);  u <- max(b2 u, |g|)
//                           p <- p - lr m / ((1 - b1^t)(u + epsilon))
class KerasAdamax final : public Optimizer {
 public:
  std::string name() const override { return "keras.Adamax"; }
  std::vector<std::string> state_names() const override { return {"m", "u"}; }
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;

 protected:
  void update(const Span& s, Index offset, const GradientTransform& t) override;
};

}  // namespace fastmlp
