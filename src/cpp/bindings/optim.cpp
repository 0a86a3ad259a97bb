#include <pybind11/pybind11.h>

#include "bindings/arrays.hpp"
#include "optim/optimizer.hpp"
#include "optim/sgd.hpp"

namespace fastmlp::bindings {

void bind_optim(py::module_& m) {
  py::class_<Optimizer, std::shared_ptr<Optimizer>>(m, "Optimizer")
      .def_readwrite("learning_rate", &Optimizer::learning_rate)
      .def_readwrite("iterations", &Optimizer::iterations)
      .def_property_readonly("name", &Optimizer::name)
      .def_property_readonly("bound_size", &Optimizer::bound_size)
      .def("bind", &Optimizer::bind, py::arg("n"), "Size the state for n parameters.")
      .def("step", [](Optimizer& opt, py::handle p_obj, py::handle g_obj) {
        auto p = require_array<float>(p_obj, "params", -1, /*writable=*/true);
        auto g = require_array<float>(g_obj, "grads", -1);
        if (p.size() != g.size())
          throw py::value_error("params has " + std::to_string(p.size()) + " values but grads has " +
                                std::to_string(g.size()));
        float* pd = p.mutable_data();
        const float* gd = g.data();
        const Index n = p.size();
        py::gil_scoped_release release;
        opt.step(pd, gd, n);
      }, py::arg("params"), py::arg("grads"),
      "One update of a flat float32 buffer in place from its gradient.");

  py::class_<SGD, Optimizer, std::shared_ptr<SGD>>(m, "SGD")
      .def(py::init<double>(), py::arg("learning_rate"));

  m.def("sgd_step", [](py::handle p_obj, py::handle g_obj, float lr) {
    auto p = require_array<float>(p_obj, "params", -1, /*writable=*/true);
    auto g = require_array<float>(g_obj, "grads", -1);
    if (p.size() != g.size())
      throw py::value_error("params has " + std::to_string(p.size()) + " values but grads has " +
                            std::to_string(g.size()));
    float* pd = p.mutable_data();
    const float* gd = g.data();
    const Index n = p.size();
    py::gil_scoped_release release;
    sgd_step(pd, gd, n, lr);
  }, py::arg("params"), py::arg("grads"), py::arg("lr"), "params -= lr * grads, in place.");
}

}  // namespace fastmlp::bindings
