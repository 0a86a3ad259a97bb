// Holding back the first layer's zero-gradient steps at batch 1.
//
// The kernel rows of the first layer's zero inputs have a +0 gradient.
// Under a rule whose step on a +0 gradient leaves the weights as they are
// and maps one state buffer by s <- factor * s + addend
// (Optimizer::zero_step_map: RMSprop without momentum or centering,
// Adagrad), such a row's step can wait: each held-back step is counted, and
// the map is applied that many times, in order and in the rule's rounding,
// before the row is next updated and before anything can read the state
// (the end of the epoch, a progress report, a step of another kind). The
// same bits as updating every row at every step, at a fraction of the cost:
// the catch-up runs in registers, and stops once the state reaches a fixed
// point of the map (mostly 0, some hundreds of steps after the input was
// last nonzero), where every later step would leave it as it is.
//
// A row is held back only after a real update on a +0 gradient has left its
// weights 0 or normal floats and its state finite and >= 0 (vet): there the rule's
// promise holds, and a subnormal weight, which a real step would flush to 0
// when subnormals are flushed, never waits.
#pragma once
#include <cstdint>
#include <vector>

#include "network.hpp"

namespace fastmlp {

class ZeroStepDeferral {
 public:
  // Room for a first layer of `rows` kernel rows of `width` values each.
  void attach(Index rows, Index width);
  // Whether this step's zero steps may be held back: inside an epoch, under
  // a rule with a ZeroStepMap, the identity transform and a finite rate.
  bool allowed(const Network& network, const GradientTransform& transform, float lr) const;

  bool may_defer(Index k) const { return may_defer_[k] != 0; }
  // Holds back row k's step (from the thread that plans the step).
  void defer(Index k) {
    ++steps_[k];
    holding_ = true;
  }
  // Applies row k's held-back steps, then forgets that it may wait (before
  // its update on a real gradient; from the thread that updates it).
  void catch_up(Network& network, Index k);
  // After row k's update on a +0 gradient: whether its next zero steps may wait.
  void vet(Network& network, Index k);
  // Applies every held-back step; no row may wait until vetted again.
  void settle(Network& network);

 private:
  void replay(Network& network, Index k);

  Index width_ = 0;
  std::vector<std::int64_t> steps_;    // per kernel row: steps held back
  std::vector<std::uint8_t> may_defer_;  // per kernel row: vetted since its last real update
  bool holding_ = false;               // some row has steps held back
};

}  // namespace fastmlp
