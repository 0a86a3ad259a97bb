// Plain stochastic gradient descent:  p <- p - lr * g
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

// The kernel, usable on any buffer: one read of p and g, one write of p.
void sgd_step(float* params, const float* grads, Index n, float lr);

class SGD final : public Optimizer {
 public:
  explicit SGD(double lr) { learning_rate = lr; }
  std::string name() const override { return "SGD"; }

 protected:
  void update(float* params, const float* grads, Index n) override {
    sgd_step(params, grads, n, float(learning_rate));
  }
};

}  // namespace fastmlp
