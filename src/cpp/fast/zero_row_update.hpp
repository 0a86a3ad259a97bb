// Plain SGD's update visiting only the first layer's kernel rows whose
// gradient can be nonzero.
//
// Where the first Dense layer multiplied through its input's nonzeros
// (kernels/sparse_input.hpp), its kernel rows of inputs that were 0 in every
// row of the batch have a +0 gradient, and the backward pass knows which.
// Under plain SGD without weight decay (Optimizer::skips_zero_gradients) a
// +0 gradient leaves its weight exactly as it is, so the update skips those
// rows (Optimizer::step_ranges): the same bits, with less memory traffic on
// mostly-zero inputs (images on a blank background, one-hot features).
#pragma once
#include <vector>

#include "step_strategy.hpp"

namespace fastmlp {

class ZeroRowUpdate final : public StepStrategy {
 public:
  const char* name() const override { return "zero_row_update"; }
  void attach(Network& network) override;
  bool applies(const Network& network, Index n) const override;
  Metrics step(Network& network, const float* x, Targets y, Index n) override;

  // Stretches of the buffer the last update visited; 0 when it visited all.
  std::size_t last_ranges() const { return last_ranges_; }

 private:
  // Fills ranges_ with the stretches that may be nonzero; returns how many
  // (0 when they cover the whole buffer).
  std::size_t nonzero_ranges(Network& network);

  std::vector<Optimizer::Range> ranges_;  // reserved for the most a step can need
  std::size_t last_ranges_ = 0;
};

}  // namespace fastmlp
