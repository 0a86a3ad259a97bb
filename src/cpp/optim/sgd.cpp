#include "optim/sgd.hpp"

#include "parallel.hpp"

namespace fastmlp {

void sgd_step(float* params, const float* grads, Index n, float lr) {
  const int threads = num_threads();
#pragma omp parallel for simd num_threads(threads) if (n >= kParallelMinElements)
  for (Index i = 0; i < n; ++i) params[i] -= lr * grads[i];
}

}  // namespace fastmlp
