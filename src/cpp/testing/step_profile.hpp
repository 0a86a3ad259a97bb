// Where a training step's time goes, by phase, when asked (bench/step_profile.py).
// Only instrumented builds (CMake option FASTMLP_INSTRUMENT) time anything:
// elsewhere a scope is an empty object and the profile reads zero.
#pragma once
#include <array>
#include <chrono>

namespace fastmlp {

enum class Phase {
  Gather,     // shuffled rows copied into the batch buffer
  Forward,    // every layer's forward pass
  Loss,       // softmax, cross-entropy and its gradient
  Backward,   // every layer's backward pass
  Optimizer,  // the fused update
  Count
};

inline const char* phase_name(Phase p) {
  constexpr const char* names[] = {"gather", "forward", "loss", "backward", "optimizer"};
  return names[int(p)];
}

#ifndef FASTMLP_INSTRUMENT
class StepProfile {
 public:
  bool enabled() const { return false; }
  void enable(bool) {}
  void reset() {}
  double seconds(Phase) const { return 0; }
  struct Scope {
    Scope(StepProfile&, Phase) {}
  };
};
#else
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
      if (profile_) profile_->seconds_[int(phase_)] += std::chrono::duration<double>(Clock::now() - start_).count();
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
#endif

}  // namespace fastmlp
