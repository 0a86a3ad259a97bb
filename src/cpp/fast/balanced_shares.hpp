// Splits a repeated parallel job among a team's threads in proportion to the
// speed each thread showed on the calls before, instead of in equal parts.
// The threads of one team are not equally fast at the same work: after a
// forward pass on one thread, that core holds the weights in its cache and
// updates them faster than the other cores, which must fetch every line from
// it; and on a busy machine another process may hold any core for a while.
// Where each part's result does not depend on the thread that computes it,
// the split changes only the time, never the bits.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

#include "runtime/matrix.hpp"

namespace fastmlp {

class BalancedShares {
 public:
  // Call before a team of nt threads starts: sizes the record for a new team
  // size (starting from equal parts) and clears the last timings.
  void begin(Index nt) {
    if (Index(share_.size()) != nt) {
      share_.assign(std::size_t(nt), 1.0 / double(nt));
      work_.assign(std::size_t(nt), 0);
      seconds_.assign(std::size_t(nt), 0.0);
    }
    std::fill(work_.begin(), work_.end(), Index(0));
  }

  // Where thread t's part of [0, total) begins (t = nt gives total).
  Index boundary(Index t, Index total) const {
    const Index nt = Index(share_.size());
    if (t <= 0) return 0;
    if (t >= nt) return total;
    double before = 0;
    for (Index u = 0; u < t; ++u) before += share_[std::size_t(u)];
    return std::min(total, Index(double(total) * before));
  }

  // From thread t, once its part is done: how much work it was, and how long it took.
  void record(Index t, Index work, double seconds) {
    work_[std::size_t(t)] = work;
    seconds_[std::size_t(t)] = seconds;
  }

  // After the team has finished: moves each thread's part a little towards
  // its share of the team's measured speed (one call's timings are noisy).
  // A thread keeps at least 0.7 of an equal part (35% with two threads): a
  // part's speed depends on which values it holds, not only on the thread,
  // so a free split can run away. (Measured at batch 1 with RMSprop, 2
  // threads: with a floor of a quarter, the second thread's part fell to
  // 18%, the values whose lines the other core had just read, and a step
  // took 68 us instead of 44-46.)
  void end() {
    const std::size_t nt = share_.size();
    double total = 0;
    for (std::size_t u = 0; u < nt; ++u) {
      if (!(work_[u] > 0 && seconds_[u] > 0)) return;  // a thread without a measurement
      total += double(work_[u]) / seconds_[u];
    }
    double sum = 0;
    for (std::size_t u = 0; u < nt; ++u) {
      const double measured = double(work_[u]) / seconds_[u] / total;
      share_[u] = std::max(kFloor / double(nt), (1 - kWeight) * share_[u] + kWeight * measured);
      sum += share_[u];
    }
    for (double& s : share_) s /= sum;
  }

  static double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

 private:
  static constexpr double kWeight = 0.1;  // of the newest timing
  static constexpr double kFloor = 0.7;   // of an equal part
  std::vector<double> share_;             // per thread, summing to 1
  std::vector<Index> work_;
  std::vector<double> seconds_;
};

}  // namespace fastmlp
