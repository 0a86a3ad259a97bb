// A step strategy: a faster way to take a training step in a special case,
// with the reference step's result (Network::train_step). Each lives in
// fast/ with the state it needs; Network asks each in turn whether it
// applies, and takes the reference step when none does. Without them the
// library is correct, only slower.
#pragma once
#include <memory>
#include <vector>

#include "network.hpp"

namespace fastmlp {

class StepStrategy {
 public:
  virtual ~StepStrategy() = default;
  virtual const char* name() const = 0;
  // Sizes the strategy's own state for `network` (once, when it is built,
  // so that steps allocate nothing).
  virtual void attach(Network& /*network*/) {}
  // Whether this strategy takes a training step of n rows now.
  virtual bool applies(const Network& network, Index n) const = 0;
  // The step: the metrics and every bit of the parameters and optimizer
  // state as the reference step would leave them.
  virtual Metrics step(Network& network, const float* x, Targets y, Index n) = 0;
  // Applies whatever work the strategy has held back, so that the
  // parameters and the optimizer state are all current (Network calls it
  // before anything outside a run of its steps can read them).
  virtual void settle(Network& /*network*/) {}
  // Writes the gradients of the last step it took to network's gradient
  // buffer, where the step did not store them (called when they are read).
  virtual void write_gradients(Network& /*network*/) {}
};

// The strategies in fast/, in the order they are asked (fast/strategies.cpp).
std::vector<std::unique_ptr<StepStrategy>> fast_step_strategies();

}  // namespace fastmlp
