// Stochastic gradient descent, with momentum, in both conventions.
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

// The plain kernel, usable on any buffer: p <- p - lr * g.
void sgd_step(float* params, const float* grads, Index n, float lr);

// torch.optim.SGD:
//   b <- g on the first step, else momentum * b + (1 - dampening) * g
//   d <- g + momentum * b (nesterov) or b;   p <- p - lr * d
class TorchSGD final : public Optimizer {
 public:
  std::string name() const override { return "torch.SGD"; }
  std::vector<std::string> state_names() const override {
    return momentum != 0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{};
  }
  double momentum = 0, dampening = 0;
  bool nesterov = false;

 protected:
  void update(const Span& s, Index offset, const GradientTransform& t) override;
  bool is_plain_sgd() const override { return momentum == 0; }
};

// keras.optimizers.SGD:
//   m <- momentum * m - lr * g
//   p <- p + momentum * m - lr * g (nesterov) or p + m
class KerasSGD final : public Optimizer {
 public:
  std::string name() const override { return "keras.SGD"; }
  std::vector<std::string> state_names() const override {
    return momentum != 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
  }
  double momentum = 0;
  bool nesterov = false;

 protected:
  void update(const Span& s, Index offset, const GradientTransform& t) override;
  bool is_plain_sgd() const override { return momentum == 0; }
};

}  // namespace fastmlp
