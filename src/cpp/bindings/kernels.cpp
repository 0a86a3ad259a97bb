// The layer and loss kernels on float32 or float64 arrays, one call each.
// Not the training path (that lives in Network): these exist so tests can
// check every kernel, in float64, against an independent NumPy reference.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/arrays.hpp"
#include "kernels/activations.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/dense.hpp"
#include "kernels/losses.hpp"

namespace fastmlp::bindings {
namespace {

bool is_float64(const py::handle& obj) {
  return py::isinstance<py::array>(obj) && py::reinterpret_borrow<py::array>(obj).dtype().is(py::dtype::of<double>());
}

void require(bool ok, const std::string& message) {
  if (!ok) throw py::value_error(message);
}

template <typename T>
py::array_t<T> new_matrix(Index rows, Index cols) {
  return py::array_t<T>({py::ssize_t(rows), py::ssize_t(cols)});
}

template <typename T>
py::object dense_forward_py(py::handle x_obj, py::handle w_obj, py::handle b_obj) {
  auto x = require_array<T>(x_obj, "x", 2), w = require_array<T>(w_obj, "W", 2);
  auto b = require_array<T>(b_obj, "b", 1);
  const Index N = x.shape(0), in = x.shape(1), out = w.shape(1);
  require(w.shape(0) == in, "W has shape " + shape_string(w) + " but x has shape " + shape_string(x));
  require(b.shape(0) == out, "b has shape " + shape_string(b) + " but W has shape " + shape_string(w));
  auto y = new_matrix<T>(N, out);
  dense_forward(x.data(), w.data(), b.data(), y.mutable_data(), N, in, out);
  return y;
}

template <typename T>
py::object dense_backward_py(py::handle x_obj, py::handle w_obj, py::handle dy_obj) {
  auto x = require_array<T>(x_obj, "x", 2), w = require_array<T>(w_obj, "W", 2);
  auto dy = require_array<T>(dy_obj, "dy", 2);
  const Index N = x.shape(0), in = x.shape(1), out = w.shape(1);
  require(w.shape(0) == in, "W has shape " + shape_string(w) + " but x has shape " + shape_string(x));
  require(dy.shape(0) == N && dy.shape(1) == out,
          "dy has shape " + shape_string(dy) + " but x has shape " + shape_string(x) + " and W " + shape_string(w));
  auto dx = new_matrix<T>(N, in), dw = new_matrix<T>(in, out);
  py::array_t<T> db(out);
  dense_backward(x.data(), w.data(), dy.data(), dx.mutable_data(), dw.mutable_data(), db.mutable_data(), N, in, out,
                 /*accumulate=*/false);
  return py::make_tuple(dx, dw, db);
}

template <typename T>
py::object activation_forward_py(const std::string& name, py::handle z_obj) {
  auto z = require_array<T>(z_obj, "z", 2);
  auto a = new_matrix<T>(z.shape(0), z.shape(1));
  activation_forward(parse_activation(name), z.data(), a.mutable_data(), z.shape(0), z.shape(1));
  return a;
}

template <typename T>
py::object activation_backward_py(const std::string& name, py::handle a_obj, py::handle da_obj) {
  auto a = require_array<T>(a_obj, "a", 2), da = require_array<T>(da_obj, "da", 2);
  require(a.shape(0) == da.shape(0) && a.shape(1) == da.shape(1),
          "a has shape " + shape_string(a) + " but da has shape " + shape_string(da));
  auto dz = new_matrix<T>(a.shape(0), a.shape(1));
  activation_backward(parse_activation(name), a.data(), da.data(), dz.mutable_data(), a.shape(0), a.shape(1));
  return dz;
}

// Returns (mean loss, gradient of the mean loss, number of argmax hits).
template <typename T>
py::object sparse_loss_py(py::handle z_obj, py::handle y_obj) {
  auto z = require_array<T>(z_obj, "logits", 2);
  auto y = require_array<std::int32_t>(y_obj, "labels", 1);
  const Index N = z.shape(0), K = z.shape(1);
  require(N > 0, "empty batch");
  require(y.shape(0) == N, "labels has shape " + shape_string(y) + " but logits has shape " + shape_string(z));
  for (Index i = 0; i < N; ++i)
    require(y.data()[i] >= 0 && y.data()[i] < K, "label " + std::to_string(y.data()[i]) + " at index " +
                                                     std::to_string(i) + " is outside [0, " + std::to_string(K) + ")");
  auto grad = new_matrix<T>(N, K);
  std::int64_t correct = 0;
  const double sum = softmax_sparse_crossentropy(z.data(), y.data(), N, K, grad.mutable_data(), T(1) / T(N), &correct);
  return py::make_tuple(sum / double(N), grad, correct);
}

template <typename T, double (*Fn)(const T*, const T*, Index, Index, T*, T, std::int64_t*)>
py::object dense_loss_py(py::handle p_obj, py::handle t_obj) {
  auto p = require_array<T>(p_obj, "predictions", 2), t = require_array<T>(t_obj, "targets", 2);
  const Index N = p.shape(0), K = p.shape(1);
  require(N > 0, "empty batch");
  require(t.shape(0) == N && t.shape(1) == K,
          "targets has shape " + shape_string(t) + " but predictions has shape " + shape_string(p));
  auto grad = new_matrix<T>(N, K);
  std::int64_t correct = 0;
  const double sum = Fn(p.data(), t.data(), N, K, grad.mutable_data(), T(1) / T(N), &correct);
  return py::make_tuple(sum / double(N), grad, correct);
}

template <typename T>
py::object batchnorm_forward_py(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj, double eps) {
  auto x = require_array<T>(x_obj, "x", 2);
  auto gamma = require_array<T>(gamma_obj, "gamma", 1), beta = require_array<T>(beta_obj, "beta", 1);
  const Index N = x.shape(0), K = x.shape(1);
  require(N > 0, "empty batch");
  require(gamma.shape(0) == K && beta.shape(0) == K, "gamma has shape " + shape_string(gamma) + " and beta " +
                                                         shape_string(beta) + " but x has shape " + shape_string(x));
  auto y = new_matrix<T>(N, K), x_hat = new_matrix<T>(N, K);
  py::array_t<T> mean(K), var(K), inv_std(K);
  batchnorm_forward_train(x.data(), gamma.data(), beta.data(), y.mutable_data(), x_hat.mutable_data(),
                          mean.mutable_data(), var.mutable_data(), inv_std.mutable_data(), N, K, T(eps));
  return py::make_tuple(y, x_hat, mean, var, inv_std);
}

template <typename T>
py::object batchnorm_backward_py(py::handle dy_obj, py::handle x_hat_obj, py::handle gamma_obj,
                                 py::handle inv_std_obj) {
  auto dy = require_array<T>(dy_obj, "dy", 2), x_hat = require_array<T>(x_hat_obj, "x_hat", 2);
  auto gamma = require_array<T>(gamma_obj, "gamma", 1), inv_std = require_array<T>(inv_std_obj, "inv_std", 1);
  const Index N = dy.shape(0), K = dy.shape(1);
  require(x_hat.shape(0) == N && x_hat.shape(1) == K,
          "x_hat has shape " + shape_string(x_hat) + " but dy has shape " + shape_string(dy));
  require(gamma.shape(0) == K && inv_std.shape(0) == K, "gamma and inv_std must have " + std::to_string(K) + " values");
  auto dx = new_matrix<T>(N, K);
  py::array_t<T> dgamma(K), dbeta(K);
  batchnorm_backward(dy.data(), x_hat.data(), gamma.data(), inv_std.data(), dx.mutable_data(), dgamma.mutable_data(),
                     dbeta.mutable_data(), N, K);
  return py::make_tuple(dx, dgamma, dbeta);
}

}  // namespace

void bind_kernels(py::module_& m) {
  auto k = m.def_submodule("kernels", "Single kernels on float32 or float64 arrays (for testing).");
  k.def(
      "dense_forward",
      [](py::handle x, py::handle w, py::handle b) {
        return is_float64(x) ? dense_forward_py<double>(x, w, b) : dense_forward_py<float>(x, w, b);
      },
      py::arg("x"), py::arg("W"), py::arg("b"), "y = x W + b");
  k.def(
      "dense_backward",
      [](py::handle x, py::handle w, py::handle dy) {
        return is_float64(x) ? dense_backward_py<double>(x, w, dy) : dense_backward_py<float>(x, w, dy);
      },
      py::arg("x"), py::arg("W"), py::arg("dy"), "(dx, dW, db) from dy");
  k.def(
      "activation_forward",
      [](const std::string& name, py::handle z) {
        return is_float64(z) ? activation_forward_py<double>(name, z) : activation_forward_py<float>(name, z);
      },
      py::arg("name"), py::arg("z"));
  k.def(
      "activation_backward",
      [](const std::string& name, py::handle a, py::handle da) {
        return is_float64(a) ? activation_backward_py<double>(name, a, da) : activation_backward_py<float>(name, a, da);
      },
      py::arg("name"), py::arg("a"), py::arg("da"), "dz from the forward output a and da");
  k.def(
      "softmax_sparse_crossentropy",
      [](py::handle z, py::handle y) {
        return is_float64(z) ? sparse_loss_py<double>(z, y) : sparse_loss_py<float>(z, y);
      },
      py::arg("logits"), py::arg("labels"), "(mean loss, d mean loss / d logits, hits)");
  k.def(
      "softmax_crossentropy",
      [](py::handle z, py::handle t) {
        return is_float64(z) ? dense_loss_py<double, softmax_crossentropy<double>>(z, t)
                             : dense_loss_py<float, softmax_crossentropy<float>>(z, t);
      },
      py::arg("logits"), py::arg("targets"), "(mean loss, d mean loss / d logits, hits)");
  k.def(
      "batchnorm_forward_train",
      [](py::handle x, py::handle gamma, py::handle beta, double eps) {
        return is_float64(x) ? batchnorm_forward_py<double>(x, gamma, beta, eps)
                             : batchnorm_forward_py<float>(x, gamma, beta, eps);
      },
      py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon") = 1e-3,
      "(y, x_hat, batch mean, batch variance (biased), inv_std)");
  k.def(
      "batchnorm_backward",
      [](py::handle dy, py::handle x_hat, py::handle gamma, py::handle inv_std) {
        return is_float64(dy) ? batchnorm_backward_py<double>(dy, x_hat, gamma, inv_std)
                              : batchnorm_backward_py<float>(dy, x_hat, gamma, inv_std);
      },
      py::arg("dy"), py::arg("x_hat"), py::arg("gamma"), py::arg("inv_std"), "(dx, dgamma, dbeta)");
  k.def(
      "mean_squared_error",
      [](py::handle p, py::handle t) {
        return is_float64(p) ? dense_loss_py<double, mean_squared_error<double>>(p, t)
                             : dense_loss_py<float, mean_squared_error<float>>(p, t);
      },
      py::arg("predictions"), py::arg("targets"), "(mean loss, d mean loss / d predictions, hits)");
}

}  // namespace fastmlp::bindings
