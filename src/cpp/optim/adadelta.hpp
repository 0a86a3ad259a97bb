// Adadelta. PyTorch and Keras share the rule and differ only in defaults:
//   v <- rho v + (1 - rho) g^2
//   d = sqrt(u + eps) / sqrt(v + eps) * g
//   u <- rho u + (1 - rho) d^2
//   p <- p - lr d
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

class Adadelta final : public Optimizer {
 public:
  std::string name() const override { return "Adadelta"; }
  std::vector<std::string> state_names() const override { return {"square_avg", "acc_delta"}; }
  double rho = 0.9, eps = 1e-6;

 protected:
  void update(const Span& s, Index offset, const GradientTransform& t) override;
};

}  // namespace fastmlp
