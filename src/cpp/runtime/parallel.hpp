// Thread count shared by OpenMP loops and Eigen's matrix products.
#pragma once
#include <omp.h>

#include <atomic>
#include <thread>

#include <cstdint>

#include "runtime/matrix.hpp"

namespace fastmlp {

// Elementwise loops shorter than this stay on one thread: below it, waking a
// second thread costs more than the loop.
constexpr Index kParallelMinElements = Index(1) << 15;

int num_threads();
// n >= 1. Applies to every later call, from any Python thread.
void set_num_threads(int n);

// body(i) for every i in [0, n): split over the threads when n reaches
// min_parallel, else run inline on the calling thread. Never an OpenMP region
// with a false if-clause: entering one still costs about 5 us here (libgomp
// re-forms its thread team), as much as a small loop itself. Each thread runs
// a private copy of `body`, so GCC keeps its captures in registers. With
// `vectorize`, the loop is also an OpenMP SIMD loop; leave it off for bodies
// whose vector and scalar forms round differently (exp, tanh), since chunk
// boundaries move with the thread count.
// share(t, nt) for each thread t of a team of nt = `threads`: the caller's
// split of its own work. One thread runs it inline, with no OpenMP region
// (even a one-thread region costs microseconds).
template <class F>
inline void run_shares(int threads, const F& share) {
  if (threads <= 1) {
    share(Index(0), Index(1));
  } else {
#pragma omp parallel num_threads(threads)
    share(Index(omp_get_thread_num()), Index(omp_get_num_threads()));
  }
}

// Indices [begin, end) handed out one at a time from either end, to any
// number of threads, each index once (lock-free: one compare-and-swap).
class TwoEndedQueue {
 public:
  void reset(Index begin, Index end) { ends_.store(pack(begin, end), std::memory_order_relaxed); }
  // The next index from the front (or the back) into i; false once empty.
  bool take(bool front, Index& i) {
    std::uint64_t now = ends_.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint32_t b = std::uint32_t(now >> 32), e = std::uint32_t(now);
      if (b >= e) return false;
      const std::uint64_t next = front ? pack(b + 1, e) : pack(b, e - 1);
      if (ends_.compare_exchange_weak(now, next, std::memory_order_relaxed)) {
        i = front ? Index(b) : Index(e) - 1;
        return true;
      }
    }
  }

 private:
  static std::uint64_t pack(Index begin, Index end) { return std::uint64_t(begin) << 32 | std::uint32_t(end); }
  std::atomic<std::uint64_t> ends_{0};
};

// Waits until `flag` is set by another thread of the same team: a short spin
// (the wait is mostly a few microseconds), yielding the core every 1,024
// polls so that a descheduled setter gets to run on a busy machine.
inline void wait_until_set(const std::atomic<bool>& flag) {
  for (unsigned polls = 1; !flag.load(std::memory_order_acquire); ++polls) {
    if (polls % 1024 == 0) {
      std::this_thread::yield();
    } else {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }
}

template <bool vectorize = true, class F>
inline void parallel_for(Index n, const F& body, Index min_parallel = kParallelMinElements) {
  const int threads = num_threads();
  if (threads > 1 && n >= min_parallel) {
#pragma omp parallel num_threads(threads)
    {
      const F local = body;
      if constexpr (vectorize) {
#pragma omp for simd schedule(simd : static)
        for (Index i = 0; i < n; ++i) local(i);
      } else {
#pragma omp for schedule(static)
        for (Index i = 0; i < n; ++i) local(i);
      }
    }
  } else {
    const F local = body;
    if constexpr (vectorize) {
#pragma omp simd
      for (Index i = 0; i < n; ++i) local(i);
    } else {
      for (Index i = 0; i < n; ++i) local(i);
    }
  }
}

}  // namespace fastmlp
