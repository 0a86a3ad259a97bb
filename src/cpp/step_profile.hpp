// Where a training step's time goes, by phase, when asked. Off by default:
// then every scope costs one untaken branch.
#pragma once
#include <array>
#include <chrono>

namespace fastmlp {

enum class Phase {
  Gather,               // shuffled rows copied into the batch buffer
  ForwardMatmul,        // x W
  ForwardElementwise,   // + b, activations, BatchNorm, Dropout
  Loss,                 // softmax, cross-entropy and its gradient
  BackwardMatmul,       // x^T dy and dy W^T
  BackwardElementwise,  // db, activation and BatchNorm derivatives, regularizers
  Optimizer,            // the fused update
  Count
};

inline const char* phase_name(Phase p) {
  constexpr const char* names[] = {"gather", "forward_matmul", "forward_elementwise", "loss",
                                   "backward_matmul", "backward_elementwise", "optimizer"};
  return names[int(p)];
}

class StepProfile {
 public:
  using Clock = std::chrono::steady_clock;

  bool enabled() const { return enabled_; }
  void enable(bool on) { enabled_ = on; }
  void reset() { seconds_.fill(0.0); }
  double seconds(Phase p) const { return seconds_[int(p)]; }

  // Adds the time from construction to destruction to `phase`.
  class Scope {
   public:
    Scope(StepProfile& profile, Phase phase) : profile_(profile.enabled_ ? &profile : nullptr), phase_(phase) {
      if (profile_) start_ = Clock::now();
    }
    ~Scope() {
      if (profile_)
        profile_->seconds_[int(phase_)] += std::chrono::duration<double>(Clock::now() - start_).count();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    StepProfile* profile_;
    Phase phase_;
    Clock::time_point start_;
  };

 private:
  bool enabled_ = false;
  std::array<double, int(Phase::Count)> seconds_{};
};

}  // namespace fastmlp
