// RAdam (rectified Adam), PyTorch's rule:
//   m <- m + (1 - b1)(g - m);  v <- b2 v + (1 - b2) g^2
//   rho_inf = 2 / (1 - b2) - 1;  rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
//   rho_t > 5: r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
//              p <- p - lr m / (1 - b1^t) * r * sqrt(1 - b2^t) / (sqrt(v) + eps)
//   otherwise: p <- p - lr m / (1 - b1^t)
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

class TorchRAdam final : public Optimizer {
 public:
  std::string name() const override { return "torch.RAdam"; }
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;

 protected:
  void prepare(std::int64_t t) override;
  void update(const Span& s, Index offset, const GradientTransform& t) override;

 private:
  bool rectified_ = false;
  float momentum_coef_ = 0, adaptive_coef_ = 0;
};

}  // namespace fastmlp
