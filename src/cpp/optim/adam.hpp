// Adam (and AdamW, which is Adam with decoupled weight decay) in both
// conventions. They differ in where bias correction meets epsilon.
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

// torch.optim.Adam / AdamW:
//   m <- m + (1 - b1)(g - m);  v <- b2 v + (1 - b2) g^2;  amsgrad: v^ <- max(v^, v)
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v or v^) / sqrt(1 - b2^t) + eps)
class TorchAdam final : public Optimizer {
 public:
  std::string name() const override { return "torch.Adam"; }
  std::vector<std::string> state_names() const override;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool amsgrad = false;

 protected:
  void prepare(std::int64_t t) override;
  void update(const Span& s, Index offset, const GradientTransform& t) override;

 private:
  float step_size_ = 0, inv_bias2_sqrt_ = 0;
};

// keras.optimizers.Adam / AdamW ("epsilon hat"):
//   alpha = lr sqrt(1 - b2^t) / (1 - b1^t)
//   m <- m + (1 - b1)(g - m);  v <- v + (1 - b2)(g^2 - v);  amsgrad: v^ <- max(v^, v)
//   p <- p - alpha m / (sqrt(v or v^) + epsilon)
class KerasAdam final : public Optimizer {
 public:
  std::string name() const override { return "keras.Adam"; }
  std::vector<std::string> state_names() const override;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;
  bool amsgrad = false;

 protected:
  void prepare(std::int64_t t) override;
  void update(const Span& s, Index offset, const GradientTransform& t) override;

 private:
  float alpha_ = 0;
};

}  // namespace fastmlp
