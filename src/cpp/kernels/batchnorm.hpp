// Batch normalization over the batch axis, Keras's definition.
//   training:  mean, var (biased) of each feature over the N rows
//              x^ = (x - mean) / sqrt(var + eps);  y = gamma x^ + beta
//   inference: x^ = (x - moving_mean) / sqrt(moving_var + eps)
//   backward (training): dgamma = sum_n dy x^;  dbeta = sum_n dy
//              dx = gamma inv_std / N (N dy - dbeta - x^ dgamma)
// Shapes: x, y, x^ (N, K); gamma, beta, mean, inv_std (K).
#pragma once
#include <cmath>

#include "runtime/matrix.hpp"

namespace fastmlp {

// Writes y, x_hat, the batch mean and variance (biased) and inv_std.
template <typename T>
void batchnorm_forward_train(const T* x, const T* gamma, const T* beta, T* y, T* x_hat, T* mean, T* var, T* inv_std,
                             Index N, Index K, T eps) {
  for (Index k = 0; k < K; ++k) mean[k] = var[k] = T(0);
  for (Index n = 0; n < N; ++n)
    for (Index k = 0; k < K; ++k) mean[k] += x[n * K + k];
  for (Index k = 0; k < K; ++k) mean[k] /= T(N);
  for (Index n = 0; n < N; ++n)
    for (Index k = 0; k < K; ++k) {
      const T d = x[n * K + k] - mean[k];
      var[k] += d * d;
    }
  for (Index k = 0; k < K; ++k) {
    var[k] /= T(N);
    inv_std[k] = T(1) / std::sqrt(var[k] + eps);
  }
  for (Index n = 0; n < N; ++n)
    for (Index k = 0; k < K; ++k) {
      const T h = (x[n * K + k] - mean[k]) * inv_std[k];
      x_hat[n * K + k] = h;
      y[n * K + k] = gamma[k] * h + beta[k];
    }
}

template <typename T>
void batchnorm_forward_infer(const T* x, const T* gamma, const T* beta, const T* moving_mean, const T* moving_var, T* y,
                             Index N, Index K, T eps) {
  for (Index n = 0; n < N; ++n)
    for (Index k = 0; k < K; ++k)
      y[n * K + k] = gamma[k] * (x[n * K + k] - moving_mean[k]) / std::sqrt(moving_var[k] + eps) + beta[k];
}

// dgamma, dbeta are written (not accumulated); dx may alias dy.
template <typename T>
void batchnorm_backward(const T* dy, const T* x_hat, const T* gamma, const T* inv_std, T* dx, T* dgamma, T* dbeta,
                        Index N, Index K) {
  for (Index k = 0; k < K; ++k) dgamma[k] = dbeta[k] = T(0);
  for (Index n = 0; n < N; ++n)
    for (Index k = 0; k < K; ++k) {
      dgamma[k] += dy[n * K + k] * x_hat[n * K + k];
      dbeta[k] += dy[n * K + k];
    }
  for (Index n = 0; n < N; ++n)
    for (Index k = 0; k < K; ++k) {
      const T scale = gamma[k] * inv_std[k] / T(N);
      dx[n * K + k] = scale * (T(N) * dy[n * K + k] - dbeta[k] - x_hat[n * K + k] * dgamma[k]);
    }
}

}  // namespace fastmlp
