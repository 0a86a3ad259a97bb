// Losses with their gradients. Each returns the SUM of per-sample losses over
// the N rows (the caller divides, so partial batches average correctly) and,
// when `grad` is not null, writes grad = scale * d(sum loss)/d(input), where
// the caller passes scale = 1/N for a mean-reduced batch loss. `correct`
// receives how many rows have argmax(prediction) == target class.
// Rows are processed serially: the sums stay bit-identical for any thread count.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "runtime/matrix.hpp"

namespace fastmlp {

enum class Loss { SparseCategoricalCrossentropy, CategoricalCrossentropy, MeanSquaredError };

inline Loss parse_loss(const std::string& name) {
  if (name == "sparse_categorical_crossentropy") return Loss::SparseCategoricalCrossentropy;
  if (name == "categorical_crossentropy") return Loss::CategoricalCrossentropy;
  if (name == "mse" || name == "mean_squared_error") return Loss::MeanSquaredError;
  throw std::invalid_argument("unknown loss '" + name +
                              "'; expected sparse_categorical_crossentropy, categorical_crossentropy or mse");
}

inline bool loss_takes_labels(Loss loss) { return loss == Loss::SparseCategoricalCrossentropy; }

template <typename T>
inline Index argmax(const T* row, Index K) {
  return Index(std::max_element(row, row + K) - row);  // first maximum, like numpy
}

// The pieces of a stable log-sum-exp of one row: the largest exponent is 0.
template <typename T>
struct ShiftedExpSum {
  T max;  // max_k z_k
  T sum;  // sum_k exp(z_k - max), in [1, K]
  T log_sum_exp() const { return max + std::log(sum); }
};

// Leaves exp(z_k - max) in `e` when it is not null (softmax = e / sum).
template <typename T>
inline ShiftedExpSum<T> shifted_exp_sum(const T* z, Index K, T* e) {
  const T max = *std::max_element(z, z + K);
  T sum = 0;
  for (Index k = 0; k < K; ++k) {
    const T ek = std::exp(z[k] - max);
    if (e) e[k] = ek;
    sum += ek;
  }
  return {max, sum};
}

// Softmax fused with sparse categorical cross-entropy, on logits z (N, K) and
// integer labels y (N):  loss_n = logsumexp(z_n) - z_n[y_n],
// grad = scale * (softmax(z) - onehot(y)).
template <typename T>
double softmax_sparse_crossentropy(const T* z, const std::int32_t* y, Index N, Index K, T* grad, T scale,
                                   std::int64_t* correct) {
  double total = 0;
  std::int64_t hits = 0;
  for (Index r = 0; r < N; ++r) {
    const T* zr = z + r * K;
    T* gr = grad ? grad + r * K : nullptr;
    const ShiftedExpSum<T> s = shifted_exp_sum(zr, K, gr);
    total += double(s.log_sum_exp() - zr[y[r]]);
    hits += argmax(zr, K) == y[r];
    if (gr) {
      const T factor = scale / s.sum;
      for (Index k = 0; k < K; ++k) gr[k] *= factor;
      gr[y[r]] -= scale;
    }
  }
  if (correct) *correct = hits;
  return total;
}

// Softmax fused with categorical cross-entropy on dense targets t (N, K):
// loss_n = sum_k t_nk (logsumexp(z_n) - z_nk),
// grad = scale * (softmax(z) * sum_k t_nk - t).
template <typename T>
double softmax_crossentropy(const T* z, const T* t, Index N, Index K, T* grad, T scale, std::int64_t* correct) {
  double total = 0;
  std::int64_t hits = 0;
  for (Index r = 0; r < N; ++r) {
    const T* zr = z + r * K;
    const T* tr = t + r * K;
    T* gr = grad ? grad + r * K : nullptr;
    const ShiftedExpSum<T> s = shifted_exp_sum(zr, K, gr);
    const T lse = s.log_sum_exp();
    T row_loss = 0, mass = 0;
    for (Index k = 0; k < K; ++k) {
      row_loss += tr[k] * (lse - zr[k]);
      mass += tr[k];
    }
    total += double(row_loss);
    hits += argmax(zr, K) == argmax(tr, K);
    if (gr) {
      const T factor = scale * mass / s.sum;
      for (Index k = 0; k < K; ++k) gr[k] = gr[k] * factor - scale * tr[k];
    }
  }
  if (correct) *correct = hits;
  return total;
}

// Mean squared error, Keras's reduction: the mean over the K outputs of a row,
// loss_n = (1/K) sum_k (p_nk - t_nk)^2, grad = scale * 2 (p - t) / K.
template <typename T>
double mean_squared_error(const T* p, const T* t, Index N, Index K, T* grad, T scale, std::int64_t* correct) {
  double total = 0;
  std::int64_t hits = 0;
  const T grad_factor = scale * T(2) / T(K);
  for (Index r = 0; r < N; ++r) {
    const T* pr = p + r * K;
    const T* tr = t + r * K;
    T sum = 0;
    for (Index k = 0; k < K; ++k) {
      const T d = pr[k] - tr[k];
      sum += d * d;
      if (grad) grad[r * K + k] = grad_factor * d;
    }
    total += double(sum / T(K));
    hits += argmax(pr, K) == argmax(tr, K);
  }
  if (correct) *correct = hits;
  return total;
}

}  // namespace fastmlp
