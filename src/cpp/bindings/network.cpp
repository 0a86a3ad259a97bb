#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mutex>

#include "bindings/arrays.hpp"
#include "network.hpp"

namespace fastmlp::bindings {
namespace {

// One call at a time per network: its workspace is shared by all calls.
class LockedNetwork : public Network {
 public:
  using Network::Network;
  std::mutex mutex;
};

// (x, y) as the network needs them, checked; y's dtype says labels or targets.
struct Batch {
  py::array_t<float> x;
  py::object y_keepalive;
  Targets targets;
  Index rows = 0;
};

Batch check_batch(LockedNetwork& net, py::handle x_obj, py::handle y_obj) {
  Batch b;
  b.x = require_array<float>(x_obj, "x", 2);
  b.rows = b.x.shape(0);
  if (b.x.shape(1) != net.input_dim())
    throw py::value_error("x has shape " + shape_string(b.x) + " but the network expects (n, " +
                          std::to_string(net.input_dim()) + ")");
  const Index K = net.output_dim();
  if (loss_takes_labels(net.loss())) {
    auto y = require_array<std::int32_t>(y_obj, "y", 1);
    if (y.shape(0) != b.rows)
      throw py::value_error("x has " + std::to_string(b.rows) + " rows but y has " +
                            std::to_string(y.shape(0)));
    const std::int32_t* labels = y.data();
    for (Index i = 0; i < b.rows; ++i)
      if (labels[i] < 0 || labels[i] >= K)
        throw py::value_error("label " + std::to_string(labels[i]) + " at index " +
                              std::to_string(i) + " is outside [0, " + std::to_string(K) + ")");
    b.targets.labels = labels;
    b.y_keepalive = y;
  } else {
    auto y = require_array<float>(y_obj, "y", 2);
    if (y.shape(0) != b.rows || y.shape(1) != K)
      throw py::value_error("y has shape " + shape_string(y) + ", expected (" +
                            std::to_string(b.rows) + ", " + std::to_string(K) + ")");
    b.targets.dense = y.data();
    b.y_keepalive = y;
  }
  return b;
}

py::tuple metrics_tuple(const Metrics& m) { return py::make_tuple(m.loss_sum, m.correct, m.count); }

// A NumPy view of `count` floats at `data`, keeping `owner` alive.
py::array view(py::object owner, float* data, std::vector<py::ssize_t> shape) {
  return py::array_t<float>(shape, data, owner);
}

}  // namespace

void bind_network(py::module_& m) {
  py::class_<LockedNetwork, std::shared_ptr<LockedNetwork>>(m, "Network", R"doc(
Dense layers over one flat parameter buffer. Metrics come back as
(loss_sum, correct, count): divide by count for means.)doc")
      .def(py::init([](Index input_dim, std::vector<Index> units, std::vector<std::string> activations) {
             std::vector<Activation> parsed;
             for (const auto& a : activations) parsed.push_back(parse_activation(a));
             return std::make_shared<LockedNetwork>(input_dim, std::move(units), std::move(parsed));
           }),
           py::arg("input_dim"), py::arg("units"), py::arg("activations"))
      .def_property_readonly("input_dim", &Network::input_dim)
      .def_property_readonly("output_dim", &Network::output_dim)
      .def_property_readonly("num_layers", &Network::num_layers)
      .def_property_readonly("num_params", &Network::num_params)
      .def_property_readonly("capacity", &Network::capacity)
      .def_property_readonly("params", [](py::object self) {
        auto& net = self.cast<LockedNetwork&>();
        return view(self, net.params(), {net.num_params()});
      }, "All parameters, a writable float32 view (zero copy).")
      .def_property_readonly("grads", [](py::object self) {
        auto& net = self.cast<LockedNetwork&>();
        return view(self, net.grads(), {net.num_params()});
      }, "Gradients of the last training step, same layout as params.")
      .def("layer_params", [](py::object self, Index l) {
        auto& net = self.cast<LockedNetwork&>();
        if (l < 0 || l >= net.num_layers()) throw py::index_error("no layer " + std::to_string(l));
        return py::make_tuple(
            view(self, net.params() + net.weight_offset(l), {net.layer_inputs(l), net.layer_units(l)}),
            view(self, net.params() + net.bias_offset(l), {net.layer_units(l)}));
      }, py::arg("layer"), "(W, b) of a layer as views into params.")
      .def("layer_grads", [](py::object self, Index l) {
        auto& net = self.cast<LockedNetwork&>();
        if (l < 0 || l >= net.num_layers()) throw py::index_error("no layer " + std::to_string(l));
        return py::make_tuple(
            view(self, net.grads() + net.weight_offset(l), {net.layer_inputs(l), net.layer_units(l)}),
            view(self, net.grads() + net.bias_offset(l), {net.layer_units(l)}));
      }, py::arg("layer"))
      .def("initialize", [](LockedNetwork& net, std::vector<std::string> kernel_init, std::uint64_t seed) {
        std::vector<Initializer> parsed;
        for (const auto& name : kernel_init) parsed.push_back(parse_initializer(name));
        std::lock_guard<std::mutex> lock(net.mutex);
        net.initialize(parsed, seed);
      }, py::arg("kernel_initializers"), py::arg("seed"))
      .def("set_loss", [](LockedNetwork& net, const std::string& name) {
        std::lock_guard<std::mutex> lock(net.mutex);
        net.set_loss(parse_loss(name));
      }, py::arg("loss"))
      .def("set_optimizer", [](LockedNetwork& net, std::shared_ptr<Optimizer> opt) {
        std::lock_guard<std::mutex> lock(net.mutex);
        net.set_optimizer(std::move(opt));
      }, py::arg("optimizer"))
      .def("train_step", [](LockedNetwork& net, py::handle x, py::handle y) {
        Batch b = check_batch(net, x, y);
        if (b.rows < 1) throw py::value_error("x is empty");
        Metrics m;
        {
          py::gil_scoped_release release;
          std::lock_guard<std::mutex> lock(net.mutex);
          m = net.train_step(b.x.data(), b.targets, b.rows);
        }
        return metrics_tuple(m);
      }, py::arg("x"), py::arg("y"), "Forward, loss, backward and update on one batch.")
      .def("train_epoch", [](LockedNetwork& net, py::handle x, py::handle y, Index batch_size,
                             bool shuffle, std::uint64_t seed, py::object learning_rates) {
        Batch b = check_batch(net, x, y);
        if (b.rows < 1) throw py::value_error("x is empty");
        if (batch_size < 1) throw py::value_error("batch_size must be >= 1");
        const double* rates = nullptr;
        py::array_t<double> rates_array;
        if (!learning_rates.is_none()) {
          rates_array = require_array<double>(learning_rates, "learning_rates", 1);
          const Index steps = (b.rows + batch_size - 1) / batch_size;
          if (rates_array.shape(0) != steps)
            throw py::value_error("learning_rates has " + std::to_string(rates_array.shape(0)) +
                                  " values for an epoch of " + std::to_string(steps) + " steps");
          rates = rates_array.data();
        }
        Metrics m;
        {
          py::gil_scoped_release release;
          std::lock_guard<std::mutex> lock(net.mutex);
          m = net.train_epoch(b.x.data(), b.targets, b.rows, batch_size, shuffle, seed, rates);
        }
        return metrics_tuple(m);
      }, py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("shuffle"), py::arg("seed"),
      py::arg("learning_rates") = py::none(),
      "One epoch; learning_rates (float64, one per step) overrides the optimizer's rate step by step.")
      .def("predict", [](LockedNetwork& net, py::handle x_obj, Index batch_size) {
        auto x = require_array<float>(x_obj, "x", 2);
        if (x.shape(1) != net.input_dim())
          throw py::value_error("x has shape " + shape_string(x) + " but the network expects (n, " +
                                std::to_string(net.input_dim()) + ")");
        if (batch_size < 1) throw py::value_error("batch_size must be >= 1");
        py::array_t<float> out({x.shape(0), py::ssize_t(net.output_dim())});
        float* out_data = out.mutable_data();
        {
          py::gil_scoped_release release;
          std::lock_guard<std::mutex> lock(net.mutex);
          net.predict(x.data(), x.shape(0), out_data, batch_size);
        }
        return out;
      }, py::arg("x"), py::arg("batch_size"))
      .def("evaluate", [](LockedNetwork& net, py::handle x, py::handle y, Index batch_size) {
        Batch b = check_batch(net, x, y);
        if (batch_size < 1) throw py::value_error("batch_size must be >= 1");
        Metrics m;
        {
          py::gil_scoped_release release;
          std::lock_guard<std::mutex> lock(net.mutex);
          m = net.evaluate(b.x.data(), b.targets, b.rows, batch_size);
        }
        return metrics_tuple(m);
      }, py::arg("x"), py::arg("y"), py::arg("batch_size"));
}

}  // namespace fastmlp::bindings
