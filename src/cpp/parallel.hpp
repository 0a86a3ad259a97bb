// Thread count shared by OpenMP loops and Eigen's matrix products.
#pragma once
#include "matrix.hpp"

namespace fastmlp {

// Elementwise loops shorter than this stay on one thread: below it, waking a
// second thread costs more than the loop.
constexpr Index kParallelMinElements = Index(1) << 15;

int num_threads();
// n >= 1. Applies to every later call, from any Python thread.
void set_num_threads(int n);

}  // namespace fastmlp
