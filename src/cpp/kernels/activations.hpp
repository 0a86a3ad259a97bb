// Elementwise and row-wise activations.
//   forward:  z (N, K) -> a (N, K)             a may alias z
//   backward: a (N, K), da (N, K) -> dz (N, K) dz may alias da; uses the
//             forward's output a, so no pre-activation buffer is kept.
#pragma once
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/matrix.hpp"
#include "runtime/parallel.hpp"

namespace fastmlp {

enum class Activation { Linear, ReLU, Sigmoid, Tanh, Softmax };

inline Activation parse_activation(const std::string& name) {
  if (name == "linear" || name.empty()) return Activation::Linear;
  if (name == "relu") return Activation::ReLU;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "tanh") return Activation::Tanh;
  if (name == "softmax") return Activation::Softmax;
  throw std::invalid_argument("unknown activation '" + name +
                              "'; expected one of linear, relu, sigmoid, tanh, softmax");
}

inline const char* activation_name(Activation f) {
  switch (f) {
    case Activation::Linear: return "linear";
    case Activation::ReLU: return "relu";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Tanh: return "tanh";
    case Activation::Softmax: return "softmax";
  }
  return "?";
}

// Numerically stable softmax of one row of length K.
template <typename T>
inline void softmax_row(const T* z, T* a, Index K) {
  T max = z[0];
  for (Index k = 1; k < K; ++k) max = std::max(max, z[k]);
  T sum = 0;
  for (Index k = 0; k < K; ++k) {
    a[k] = std::exp(z[k] - max);
    sum += a[k];
  }
  const T inv = T(1) / sum;
  for (Index k = 0; k < K; ++k) a[k] *= inv;
}

template <typename T>
void activation_forward(Activation f, const T* z, T* a, Index N, Index K) {
  const Index n = N * K;
  switch (f) {
    case Activation::Linear:
      if (a != z) std::copy(z, z + n, a);
      break;
    case Activation::ReLU: parallel_for(n, [=](Index i) { a[i] = z[i] > T(0) ? z[i] : T(0); }); break;
    case Activation::Sigmoid:
      // exp of a non-positive argument only, so it never overflows.
      parallel_for<false>(n, [=](Index i) {
        const T e = std::exp(-std::abs(z[i]));
        a[i] = z[i] >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
      });
      break;
    case Activation::Tanh: parallel_for<false>(n, [=](Index i) { a[i] = std::tanh(z[i]); }); break;
    case Activation::Softmax:
      parallel_for<false>(
          N, [=](Index r) { softmax_row(z + r * K, a + r * K, K); }, (kParallelMinElements + K - 1) / K);
      break;
  }
}

template <typename T>
void activation_backward(Activation f, const T* a, const T* da, T* dz, Index N, Index K) {
  const Index n = N * K;
  switch (f) {
    case Activation::Linear:
      if (dz != da) std::copy(da, da + n, dz);
      break;
    case Activation::ReLU: parallel_for(n, [=](Index i) { dz[i] = a[i] > T(0) ? da[i] : T(0); }); break;
    case Activation::Sigmoid: parallel_for(n, [=](Index i) { dz[i] = da[i] * a[i] * (T(1) - a[i]); }); break;
    case Activation::Tanh: parallel_for(n, [=](Index i) { dz[i] = da[i] * (T(1) - a[i] * a[i]); }); break;
    case Activation::Softmax:
      // dz_k = a_k (da_k - sum_j a_j da_j): the Jacobian-vector product per row.
      parallel_for<false>(
          N,
          [=](Index r) {
            const T* ar = a + r * K;
            const T* dar = da + r * K;
            T* dzr = dz + r * K;
            T dot = 0;
            for (Index k = 0; k < K; ++k) dot += ar[k] * dar[k];
            for (Index k = 0; k < K; ++k) dzr[k] = ar[k] * (dar[k] - dot);
          },
          (kParallelMinElements + K - 1) / K);
      break;
  }
}

}  // namespace fastmlp
