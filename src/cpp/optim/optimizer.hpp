// An optimizer is one fused kernel over a flat parameter buffer, plus the
// state buffers that kernel owns (momenta, second moments, ...), allocated
// once the parameter count is known and reused every step.
#pragma once
#include <cstdint>
#include <string>

#include "matrix.hpp"

namespace fastmlp {

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Sizes (and zeroes) the state for n parameters. Idempotent for the same n.
  virtual void bind(Index n) { bound_size_ = n; }
  Index bound_size() const { return bound_size_; }

  // One update of params[0, n) from grads[0, n), then iterations += 1.
  void step(float* params, const float* grads, Index n) {
    if (n != bound_size_) bind(n);
    update(params, grads, n);
    ++iterations;
  }

  virtual std::string name() const = 0;

  double learning_rate = 0.01;
  std::int64_t iterations = 0;

 protected:
  virtual void update(float* params, const float* grads, Index n) = 0;

 private:
  Index bound_size_ = -1;
};

}  // namespace fastmlp
