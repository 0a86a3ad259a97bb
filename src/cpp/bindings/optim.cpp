// Optimizer kernels. Python sets the hyperparameters as attributes, then
// calls step() on a model's flat buffer or on lists of NumPy arrays.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/arrays.hpp"
#include "bindings/compute_scope.hpp"
#include "optim/adadelta.hpp"
#include "optim/adagrad.hpp"
#include "optim/adam.hpp"
#include "optim/adamax.hpp"
#include "optim/lion.hpp"
#include "optim/nadam.hpp"
#include "optim/optimizer.hpp"
#include "optim/radam.hpp"
#include "optim/rmsprop.hpp"
#include "optim/sgd.hpp"

namespace fastmlp::bindings {
namespace {

// Pairs of (params, grads) arrays as spans; params are updated in place, so
// they must be writable float32 C-contiguous arrays, never a converted copy.
std::vector<Span> spans_of(const py::handle& params_obj, const py::handle& grads_obj,
                           std::vector<py::object>& keepalive) {
  std::vector<py::handle> params, grads;
  if (py::isinstance<py::array>(params_obj)) {
    params.push_back(params_obj);
    grads.push_back(grads_obj);
  } else {
    for (auto h : py::reinterpret_borrow<py::sequence>(params_obj)) params.push_back(h);
    for (auto h : py::reinterpret_borrow<py::sequence>(grads_obj)) grads.push_back(h);
  }
  if (params.size() != grads.size())
    throw py::value_error(std::to_string(grads.size()) + " gradients for " + std::to_string(params.size()) +
                          " parameters");
  std::vector<Span> spans;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string p_name = "params[" + std::to_string(i) + "]";
    const std::string g_name = "grads[" + std::to_string(i) + "]";
    auto p = require_array<float>(params[i], p_name.c_str(), -1, /*writable=*/true);
    auto g = require_array<float>(grads[i], g_name.c_str(), -1);
    if (p.size() != g.size())
      throw py::value_error(p_name + " has " + std::to_string(p.size()) + " values but " + g_name + " has " +
                            std::to_string(g.size()));
    spans.push_back({p.mutable_data(), g.data(), Index(p.size())});
    keepalive.push_back(p);
    keepalive.push_back(g);
  }
  return spans;
}

template <class T>
py::class_<T, Optimizer, std::shared_ptr<T>> kernel(py::module_& m, const char* name) {
  return py::class_<T, Optimizer, std::shared_ptr<T>>(m, name).def(py::init<>());
}

}  // namespace

void bind_optim(py::module_& m) {
  py::class_<Optimizer, std::shared_ptr<Optimizer>>(m, "Optimizer")
      .def_readwrite("learning_rate", &Optimizer::learning_rate)
      .def_readwrite("iterations", &Optimizer::iterations)
      .def_readwrite("maximize", &Optimizer::maximize)
      .def_readwrite("l2_weight_decay", &Optimizer::l2_weight_decay)
      .def_readwrite("decoupled_weight_decay", &Optimizer::decoupled_weight_decay)
      .def_readwrite("torch_decay_form", &Optimizer::torch_decay_form)
      .def_readwrite("clip_value", &Optimizer::clip_value)
      .def_readwrite("clip_norm", &Optimizer::clip_norm)
      .def_readwrite("global_clip_norm", &Optimizer::global_clip_norm)
      .def_property_readonly("name", &Optimizer::name)
      .def_property_readonly("state_names", &Optimizer::state_names)
      .def_property_readonly("scalar_names", &Optimizer::scalar_names)
      .def_property_readonly("bound_size", &Optimizer::bound_size)
      .def("bind", &Optimizer::bind, py::arg("n"), "Size (and reset) the state for n parameters.")
      .def(
          "state",
          [](py::object self, std::size_t i) {
            auto& opt = self.cast<Optimizer&>();
            if (i >= opt.state_names().size() || opt.bound_size() < 0)
              throw py::index_error("no state buffer " + std::to_string(i));
            return py::array_t<float>({py::ssize_t(opt.bound_size())}, opt.state(i), self);
          },
          py::arg("index"), "State buffer `index` (see state_names): a writable view.")
      .def("get_scalar",
           [](Optimizer& opt, std::size_t i) {
             double* v = opt.scalar(i);
             if (!v) throw py::index_error("no scalar state " + std::to_string(i));
             return *v;
           })
      .def("set_scalar",
           [](Optimizer& opt, std::size_t i, double value) {
             double* v = opt.scalar(i);
             if (!v) throw py::index_error("no scalar state " + std::to_string(i));
             *v = value;
           })
      .def(
          "step",
          [](Optimizer& opt, py::handle params, py::handle grads) {
            std::vector<py::object> keepalive;
            std::vector<Span> spans = spans_of(params, grads, keepalive);
            ComputeScope compute;
            opt.step(spans.data(), spans.size());
          },
          py::arg("params"), py::arg("grads"),
          "One update, in place, of a float32 array or a list of them, from the gradients.");

  kernel<TorchSGD>(m, "TorchSGD")
      .def_readwrite("momentum", &TorchSGD::momentum)
      .def_readwrite("dampening", &TorchSGD::dampening)
      .def_readwrite("nesterov", &TorchSGD::nesterov);
  kernel<KerasSGD>(m, "KerasSGD")
      .def_readwrite("momentum", &KerasSGD::momentum)
      .def_readwrite("nesterov", &KerasSGD::nesterov);
  kernel<TorchAdagrad>(m, "TorchAdagrad")
      .def_readwrite("lr_decay", &TorchAdagrad::lr_decay)
      .def_readwrite("initial_accumulator_value", &TorchAdagrad::initial_accumulator_value)
      .def_readwrite("eps", &TorchAdagrad::eps);
  kernel<KerasAdagrad>(m, "KerasAdagrad")
      .def_readwrite("initial_accumulator_value", &KerasAdagrad::initial_accumulator_value)
      .def_readwrite("epsilon", &KerasAdagrad::epsilon);
  kernel<TorchRMSprop>(m, "TorchRMSprop")
      .def_readwrite("alpha", &TorchRMSprop::alpha)
      .def_readwrite("eps", &TorchRMSprop::eps)
      .def_readwrite("momentum", &TorchRMSprop::momentum)
      .def_readwrite("centered", &TorchRMSprop::centered);
  kernel<KerasRMSprop>(m, "KerasRMSprop")
      .def_readwrite("rho", &KerasRMSprop::rho)
      .def_readwrite("epsilon", &KerasRMSprop::epsilon)
      .def_readwrite("momentum", &KerasRMSprop::momentum)
      .def_readwrite("centered", &KerasRMSprop::centered);
  kernel<TorchAdam>(m, "TorchAdam")
      .def_readwrite("beta1", &TorchAdam::beta1)
      .def_readwrite("beta2", &TorchAdam::beta2)
      .def_readwrite("eps", &TorchAdam::eps)
      .def_readwrite("amsgrad", &TorchAdam::amsgrad);
  kernel<KerasAdam>(m, "KerasAdam")
      .def_readwrite("beta1", &KerasAdam::beta1)
      .def_readwrite("beta2", &KerasAdam::beta2)
      .def_readwrite("epsilon", &KerasAdam::epsilon)
      .def_readwrite("amsgrad", &KerasAdam::amsgrad);
  kernel<TorchAdamax>(m, "TorchAdamax")
      .def_readwrite("beta1", &TorchAdamax::beta1)
      .def_readwrite("beta2", &TorchAdamax::beta2)
      .def_readwrite("eps", &TorchAdamax::eps);
  kernel<KerasAdamax>(m, "KerasAdamax")
      .def_readwrite("beta1", &KerasAdamax::beta1)
      .def_readwrite("beta2", &KerasAdamax::beta2)
      .def_readwrite("epsilon", &KerasAdamax::epsilon);
  kernel<TorchNAdam>(m, "TorchNAdam")
      .def_readwrite("beta1", &TorchNAdam::beta1)
      .def_readwrite("beta2", &TorchNAdam::beta2)
      .def_readwrite("eps", &TorchNAdam::eps)
      .def_readwrite("momentum_decay", &TorchNAdam::momentum_decay);
  kernel<KerasNadam>(m, "KerasNadam")
      .def_readwrite("beta1", &KerasNadam::beta1)
      .def_readwrite("beta2", &KerasNadam::beta2)
      .def_readwrite("epsilon", &KerasNadam::epsilon);
  kernel<TorchRAdam>(m, "TorchRAdam")
      .def_readwrite("beta1", &TorchRAdam::beta1)
      .def_readwrite("beta2", &TorchRAdam::beta2)
      .def_readwrite("eps", &TorchRAdam::eps);
  kernel<Adadelta>(m, "Adadelta").def_readwrite("rho", &Adadelta::rho).def_readwrite("eps", &Adadelta::eps);
  kernel<Lion>(m, "Lion").def_readwrite("beta1", &Lion::beta1).def_readwrite("beta2", &Lion::beta2);

  m.def(
      "sgd_step",
      [](py::handle p_obj, py::handle g_obj, float lr) {
        auto p = require_array<float>(p_obj, "params", -1, /*writable=*/true);
        auto g = require_array<float>(g_obj, "grads", -1);
        if (p.size() != g.size())
          throw py::value_error("params has " + std::to_string(p.size()) + " values but grads has " +
                                std::to_string(g.size()));
        float* pd = p.mutable_data();
        const float* gd = g.data();
        const Index n = p.size();
        ComputeScope compute;
        sgd_step(pd, gd, n, lr);
      },
      py::arg("params"), py::arg("grads"), py::arg("lr"), "params -= lr * grads, in place.");

  m.def(
      "sum_of_squares",
      [](py::handle g_obj) {
        auto g = require_array<float>(g_obj, "array", -1);
        const float* data = g.data();
        const Index n = g.size();
        ComputeScope compute;
        return sum_of_squares(data, n);
      },
      py::arg("array"), "sum of x^2 in float64, the same for any thread count.");

  m.def(
      "scale_and_clip",
      [](py::handle g_obj, float scale, float clip) {
        auto g = require_array<float>(g_obj, "array", -1, /*writable=*/true);
        float* data = g.mutable_data();
        const Index n = g.size();
        ComputeScope compute;
        fused_loop(n, [=](Index i) {
          const float v = data[i] * scale;
          data[i] = v < -clip ? -clip : (v > clip ? clip : v);
        });
      },
      py::arg("array"), py::arg("scale"), py::arg("clip"), "x <- clamp(x * scale, -clip, clip), in place.");
}

}  // namespace fastmlp::bindings
