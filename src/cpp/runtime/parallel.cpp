#include "runtime/parallel.hpp"

#include <omp.h>

#include <atomic>
#include <stdexcept>

namespace fastmlp {
namespace {
// Default: whatever OpenMP would use (all cores, or OMP_NUM_THREADS).
std::atomic<int> g_num_threads{0};
}  // namespace

int num_threads() {
  int n = g_num_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    n = omp_get_max_threads();
    g_num_threads.store(n, std::memory_order_relaxed);
    Eigen::setNbThreads(n);
  }
  return n;
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("number of threads must be >= 1, got " + std::to_string(n));
  g_num_threads.store(n, std::memory_order_relaxed);
  Eigen::setNbThreads(n);
}

}  // namespace fastmlp
