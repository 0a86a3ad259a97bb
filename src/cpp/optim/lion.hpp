// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"),
// as in the paper and in Keras:
//   c = b1 m + (1 - b1) g;  p <- p - lr sign(c)  (decoupled weight decay: - lr wd p)
//   m <- b2 m + (1 - b2) g
#pragma once
#include "optim/optimizer.hpp"

namespace fastmlp {

class Lion final : public Optimizer {
 public:
  std::string name() const override { return "Lion"; }
  std::vector<std::string> state_names() const override { return {"exp_avg"}; }
  double beta1 = 0.9, beta2 = 0.99;

 protected:
  void update(const Span& s, Index offset, const GradientTransform& t) override;
};

}  // namespace fastmlp
