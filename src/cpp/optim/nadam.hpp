// NAdam (Adam with Nesterov momentum) in both conventions: the same idea,
// different momentum schedules.
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

// torch.optim.NAdam:
//   mu_t = b1 (1 - 0.5 * 0.96^(t psi)),  psi = momentum_decay;  P <- P mu_t (P starts at 1)
//   m <- m + (1 - b1)(g - m);  v <- b2 v + (1 - b2) g^2;  d = sqrt(v / (1 - b2^t)) + eps
//   p <- p - lr (1 - mu_t) / (1 - P) g / d - lr mu_{t+1} / (1 - P mu_{t+1}) m / d
class TorchNAdam final : public Optimizer {
 public:
  std::string name() const override { return "torch.NAdam"; }
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  std::vector<std::string> scalar_names() const override { return {"mu_product"}; }
  double* scalar(std::size_t i) override { return i == 0 ? &mu_product : nullptr; }
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum_decay = 4e-3;
  double mu_product = 1.0;

 protected:
  void prepare(std::int64_t t) override;
  void update(const Span& s, Index offset, const GradientTransform& t) override;
  void finish(std::int64_t) override { mu_product = next_product_; }

 private:
  double next_product_ = 1.0;
  float grad_coef_ = 0, momentum_coef_ = 0, inv_bias2_ = 0;
};

// keras.optimizers.Nadam:
//   u_t = b1 (1 - 0.5 * 0.96^t);  U <- U u_t (U starts at 1)
//   m <- m + (1 - b1)(g - m);  v <- v + (1 - b2)(g^2 - v)
//   m^ = u_{t+1} m / (1 - U u_{t+1}) + (1 - u_t) g / (1 - U);  v^ = v / (1 - b2^t)
//   p <- p - lr m^ / (sqrt(v^) + epsilon)
class KerasNadam final : public Optimizer {
 public:
  std::string name() const override { return "keras.Nadam"; }
  std::vector<std::string> state_names() const override { return {"momentum", "velocity"}; }
  std::vector<std::string> scalar_names() const override { return {"u_product"}; }
  double* scalar(std::size_t i) override { return i == 0 ? &u_product : nullptr; }
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;
  double u_product = 1.0;

 protected:
  void prepare(std::int64_t t) override;
  void update(const Span& s, Index offset, const GradientTransform& t) override;
  void finish(std::int64_t) override { u_product = next_product_; }

 private:
  double next_product_ = 1.0;
  float momentum_coef_ = 0, grad_coef_ = 0, inv_bias2_ = 0;
};

}  // namespace fastmlp
