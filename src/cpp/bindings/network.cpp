#include <pybind11/stl.h>

#include "bindings/arrays.hpp"
#include "bindings/compute_scope.hpp"
#include "bindings/locked_network.hpp"
#include "layers/dense.hpp"
#include "step_strategy.hpp"

namespace fastmlp::bindings {

Batch check_batch(LockedNetwork& net, py::handle x_obj, py::handle y_obj) {
  Batch b;
  auto x = require_array<float>(x_obj, "x", 2);
  b.rows = x.shape(0);
  if (x.shape(1) != net.input_dim())
    throw py::value_error("x has shape " + shape_string(x) + " but the network expects (n, " +
                          std::to_string(net.input_dim()) + ")");
  b.x = x.data();
  b.x_keepalive = x;
  const Index K = net.output_dim();
  if (loss_takes_labels(net.loss())) {
    auto y = require_array<std::int32_t>(y_obj, "y", 1);
    if (y.shape(0) != b.rows)
      throw py::value_error("x has " + std::to_string(b.rows) + " rows but y has " + std::to_string(y.shape(0)));
    const std::int32_t* labels = y.data();
    for (Index i = 0; i < b.rows; ++i)
      if (labels[i] < 0 || labels[i] >= K)
        throw py::value_error("label " + std::to_string(labels[i]) + " at index " + std::to_string(i) +
                              " is outside [0, " + std::to_string(K) + ")");
    b.targets.labels = labels;
    b.y_keepalive = y;
  } else {
    auto y = require_array<float>(y_obj, "y", 2);
    if (y.shape(0) != b.rows || y.shape(1) != K)
      throw py::value_error("y has shape " + shape_string(y) + ", expected (" + std::to_string(b.rows) + ", " +
                            std::to_string(K) + ")");
    b.targets.dense = y.data();
    b.y_keepalive = y;
  }
  return b;
}

namespace {

py::tuple metrics_tuple(const Metrics& m) { return py::make_tuple(m.loss_sum, m.correct, m.count); }

// A layer's settings from the dict a model gives (Layer.core_spec in Python).
class DictConfig final : public LayerConfig {
 public:
  explicit DictConfig(py::dict d) : d_(std::move(d)) {}
  std::string kind() const override { return text("kind", "dense"); }
  double number(const char* key, double fallback) const override { return get<double>(key, fallback); }
  std::string text(const char* key, const std::string& fallback) const override {
    return get<std::string>(key, fallback);
  }

 private:
  template <typename T>
  T get(const char* key, T fallback) const {
    if (!d_.contains(key)) return fallback;
    py::handle value = d_[key];
    const bool fits = std::is_same_v<T, std::string>
                          ? py::isinstance<py::str>(value)
                          : py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value);
    if (!fits)
      throw py::type_error(std::string("layer field '") + key + "' has the wrong type: " +
                           std::string(py::str(py::type::handle_of(value).attr("__name__"))));
    return value.cast<T>();
  }
  py::dict d_;
};

std::shared_ptr<LockedNetwork> make_network(Index input_dim, const std::vector<py::dict>& configs) {
  std::vector<std::unique_ptr<Layer>> layers;
  Index width = input_dim;
  for (const py::dict& d : configs) {
    layers.push_back(make_layer(DictConfig(d), width));
    width = layers.back()->outputs();
  }
  return std::make_shared<LockedNetwork>(input_dim, std::move(layers));
}

// The first layer's sparse-input products, where it has them.
SparseInputProducts* sparse_input(Network& net) {
  auto* dense = dynamic_cast<Dense*>(&net.layer(0));
  return dense ? dense->sparse_input() : nullptr;
}

// A NumPy view of `count` floats at `data`, keeping `owner` alive.
py::array view(py::object owner, float* data, std::vector<py::ssize_t> shape) {
  return py::array_t<float>(shape, data, owner);
}

// Gradients are read-only views: the first layer's backward leaves rows it
// knows are still zero untouched (sparse_input.hpp), so a write from Python
// would survive into the next step's gradient.
py::array read_only_view(py::object owner, float* data, std::vector<py::ssize_t> shape) {
  py::array a = view(owner, data, std::move(shape));
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

// The gradients, formed first if the last step did not store them
// (Network::grads), in the arithmetic mode the steps run in.
float* current_grads(Network& net) {
  DenormalScope denormals;
  return net.grads();
}

py::tuple layer_views(py::object self, Index l, bool grads) {
  auto& net = self.cast<LockedNetwork&>();
  if (l < 0 || l >= net.num_layers()) throw py::index_error("no layer " + std::to_string(l));
  const Layer& layer = net.layer(l);
  py::list views;
  auto add = [&](float* at, const std::vector<std::vector<Index>>& shapes) {
    for (const auto& shape : shapes) {
      views.append((grads ? read_only_view : view)(self, at, std::vector<py::ssize_t>(shape.begin(), shape.end())));
      at += shape_size(shape);
    }
  };
  add((grads ? current_grads(net) : net.params()) + net.param_offset(l), layer.param_shapes());
  if (!grads) add(net.moving_stats() + net.stat_offset(l), layer.stat_shapes());
  return py::tuple(views);
}

}  // namespace

void bind_network(py::module_& m) {
  m.attr("DEFAULT_SPARSE_INPUT_MAX_DENSITY") = SparseInputProducts::kDefaultMaxDensity;
  py::class_<LockedNetwork, std::shared_ptr<LockedNetwork>>(m, "Network", R"doc(
Dense layers over one flat parameter buffer. Metrics come back as
(loss_sum, correct, count): divide by count for means.)doc")
      .def(py::init([](Index input_dim, std::vector<Index> units, std::vector<std::string> activations,
                       std::vector<std::string> kernel_initializers) {
             if (units.size() != activations.size()) throw py::value_error("one activation per layer is required");
             if (!kernel_initializers.empty() && kernel_initializers.size() != units.size())
               throw py::value_error("one kernel initializer per layer is required");
             std::vector<py::dict> configs;
             for (std::size_t i = 0; i < units.size(); ++i) {
               py::dict d(py::arg("kind") = "dense", py::arg("units") = units[i],
                          py::arg("activation") = activations[i]);
               if (!kernel_initializers.empty()) d["kernel_initializer"] = kernel_initializers[i];
               configs.push_back(d);
             }
             return make_network(input_dim, configs);
           }),
           py::arg("input_dim"), py::arg("units"), py::arg("activations"),
           py::arg("kernel_initializers") = std::vector<std::string>{},
           "A stack of Dense layers (kernels glorot_uniform unless given).")
      .def(py::init(&make_network), py::arg("input_dim"), py::arg("layers"),
           "Layers as dicts: {'kind': 'dense', 'units', 'activation', 'kernel_initializer', 'l1', 'l2'}, "
           "{'kind': 'batch_norm', 'momentum', 'epsilon'}, {'kind': 'dropout', 'rate'}, "
           "{'kind': 'activation', 'activation'}.")
      .def_property_readonly("input_dim", &Network::input_dim)
      .def_property_readonly("output_dim", &Network::output_dim)
      .def_property_readonly("num_layers", &Network::num_layers)
      .def_property_readonly("num_params", &Network::num_params)
      .def_property_readonly("capacity", &Network::capacity)
      .def_property_readonly(
          "params",
          [](py::object self) {
            auto& net = self.cast<LockedNetwork&>();
            return view(self, net.params(), {net.num_params()});
          },
          "All trainable parameters, a writable float32 view (zero copy).")
      .def_property_readonly(
          "grads",
          [](py::object self) {
            auto& net = self.cast<LockedNetwork&>();
            return read_only_view(self, current_grads(net), {net.num_params()});
          },
          "Gradients of the last training step, same layout as params (read-only). Reading them "
          "makes later steps store theirs, so the view stays current.")
      .def_property_readonly(
          "moving_stats",
          [](py::object self) {
            auto& net = self.cast<LockedNetwork&>();
            return view(self, net.moving_stats(), {net.num_stats()});
          },
          "BatchNormalization moving means and variances (not trained).")
      .def(
          "layer_params", [](py::object self, Index l) { return layer_views(self, l, /*grads=*/false); },
          py::arg("layer"),
          "Views into params: Dense (W, b); BatchNormalization (gamma, beta, moving_mean, "
          "moving_variance); Dropout ().")
      .def(
          "layer_grads", [](py::object self, Index l) { return layer_views(self, l, /*grads=*/true); },
          py::arg("layer"), "Read-only views into grads: Dense (dW, db); BatchNormalization (dgamma, dbeta).")
      .def_property(
          "sparse_input_max_density",
          [](LockedNetwork& net) -> py::object {
            std::lock_guard<std::mutex> lock(net.mutex);
            SparseInputProducts* sparse = sparse_input(net);
            return sparse ? py::object(py::float_(sparse->max_density)) : py::object(py::none());
          },
          [](LockedNetwork& net, double density) {
            if (!(density >= 0 && density <= 1)) throw py::value_error("sparse_input_max_density must be in [0, 1]");
            py::gil_scoped_release release;  // never wait for the lock holding the GIL
            std::lock_guard<std::mutex> lock(net.mutex);
            if (SparseInputProducts* sparse = sparse_input(net)) sparse->max_density = density;
          },
          "Fraction of nonzero inputs up to which a first Dense layer multiplies through the "
          "nonzeros only (exact: zeros add nothing); 0 always uses the dense product. None where "
          "the first layer is not Dense.")
      .def_property_readonly(
          "last_sparse_rows",
          [](LockedNetwork& net) -> Index {
            std::lock_guard<std::mutex> lock(net.mutex);
            SparseInputProducts* sparse = sparse_input(net);
            return sparse ? sparse->last_sparse_rows() : 0;
          },
          "Rows of the last forward pass that took the sparse product.")
      .def_property_readonly(
          "last_step",
          [](LockedNetwork& net) {
            std::lock_guard<std::mutex> lock(net.mutex);
            return std::string(net.last_strategy() ? net.last_strategy()->name() : "reference");
          },
          "Which step took the last training step: 'reference', or a strategy's name "
          "('single_row': batch 1, the update applied as the gradients are formed; 'zero_row_update': "
          "plain SGD skipping the first layer's kernel rows of zero inputs).")
      .def(
          "seed_dropout",
          [](LockedNetwork& net, std::uint64_t seed) {
            std::lock_guard<std::mutex> lock(net.mutex);
            net.seed_dropout(seed);
          },
          py::arg("seed"), "Seed the dropout masks of the following train_step calls.")
      .def(
          "initialize",
          [](LockedNetwork& net, std::uint64_t seed) {
            std::lock_guard<std::mutex> lock(net.mutex);
            net.initialize(seed);
          },
          py::arg("seed"), "Every layer's initial values (Dense kernels by their kernel_initializer).")
      .def(
          "set_loss",
          [](LockedNetwork& net, const std::string& name) {
            std::lock_guard<std::mutex> lock(net.mutex);
            net.set_loss(parse_loss(name));
          },
          py::arg("loss"))
      .def(
          "set_optimizer",
          [](LockedNetwork& net, std::shared_ptr<Optimizer> opt) {
            std::lock_guard<std::mutex> lock(net.mutex);
            net.set_optimizer(std::move(opt));
          },
          py::arg("optimizer"))
      .def(
          "train_step",
          [](LockedNetwork& net, py::handle x, py::handle y) {
            Batch b = check_batch(net, x, y);
            if (b.rows < 1) throw py::value_error("x is empty");
            Metrics m;
            {
              ComputeScope compute;
              std::lock_guard<std::mutex> lock(net.mutex);
              m = net.train_step(b.x, b.targets, b.rows);
            }
            return metrics_tuple(m);
          },
          py::arg("x"), py::arg("y"), "Forward, loss, backward and update on one batch.")
      .def(
          "train_epoch",
          [](LockedNetwork& net, py::handle x, py::handle y, Index batch_size, bool shuffle, std::uint64_t seed,
             py::object learning_rates, py::object progress, double progress_interval) {
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
            Network::Progress report;
            if (!progress.is_none()) {
              // Runs with the GIL taken back; it must not call into this network
              // (the epoch holds its lock). An exception from it ends the epoch.
              // A handle, not an object: copying the std::function without the
              // GIL must not touch reference counts (`progress` outlives the call).
              py::handle callback = progress;
              report = [callback](const Metrics& m, Index done, Index steps) {
                py::gil_scoped_acquire acquire;
                DenormalPause pause;  // Python code runs in its usual IEEE mode
                callback(m.loss_sum, m.correct, m.count, done, steps);
              };
            }
            Metrics m;
            {
              ComputeScope compute;
              std::lock_guard<std::mutex> lock(net.mutex);
              net.set_progress(report, progress_interval);
              try {
                m = net.train_epoch(b.x, b.targets, b.rows, batch_size, shuffle, seed, rates);
              } catch (...) {
                net.set_progress(nullptr, progress_interval);
                throw;
              }
              net.set_progress(nullptr, progress_interval);
            }
            return metrics_tuple(m);
          },
          py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("shuffle"), py::arg("seed"),
          py::arg("learning_rates") = py::none(), py::arg("progress") = py::none(), py::arg("progress_interval") = 0.1,
          "One epoch; learning_rates (float64, one per step) overrides the optimizer's rate step by step; "
          "progress(loss_sum, correct, count, steps_done, steps) is called at most every progress_interval "
          "seconds and after the last step.")
      .def(
          "predict",
          [](LockedNetwork& net, py::handle x_obj, Index batch_size) {
            auto x = require_array<float>(x_obj, "x", 2);
            if (x.shape(1) != net.input_dim())
              throw py::value_error("x has shape " + shape_string(x) + " but the network expects (n, " +
                                    std::to_string(net.input_dim()) + ")");
            if (batch_size < 1) throw py::value_error("batch_size must be >= 1");
            py::array_t<float> out({x.shape(0), py::ssize_t(net.output_dim())});
            float* out_data = out.mutable_data();
            {
              ComputeScope compute;
              std::lock_guard<std::mutex> lock(net.mutex);
              net.predict(x.data(), x.shape(0), out_data, batch_size);
            }
            return out;
          },
          py::arg("x"), py::arg("batch_size"))
      .def(
          "evaluate",
          [](LockedNetwork& net, py::handle x, py::handle y, Index batch_size) {
            Batch b = check_batch(net, x, y);
            if (batch_size < 1) throw py::value_error("batch_size must be >= 1");
            Metrics m;
            {
              ComputeScope compute;
              std::lock_guard<std::mutex> lock(net.mutex);
              m = net.evaluate(b.x, b.targets, b.rows, batch_size);
            }
            return metrics_tuple(m);
          },
          py::arg("x"), py::arg("y"), py::arg("batch_size"));
}

}  // namespace fastmlp::bindings
