#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <mutex>

#include "allocation_counter.hpp"
#include "bindings/arrays.hpp"
#include "bindings/compute_scope.hpp"
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

template <typename T>
T get_or(const py::dict& d, const char* key, T fallback) {
  if (!d.contains(key)) return fallback;
  try {
    return d[key].cast<T>();
  } catch (const py::cast_error&) {
    throw py::type_error(std::string("layer field '") + key + "' has the wrong type: " +
                         std::string(py::str(py::type::handle_of(d[key]).attr("__name__"))));
  }
}

LayerSpec layer_spec(const py::dict& d) {
  LayerSpec spec;
  const auto kind = get_or<std::string>(d, "kind", "dense");
  if (kind == "dense") {
    spec.kind = LayerKind::Dense;
    spec.units = get_or<Index>(d, "units", 0);
    spec.activation = parse_activation(get_or<std::string>(d, "activation", "linear"));
    spec.l1 = get_or<double>(d, "l1", 0.0);
    spec.l2 = get_or<double>(d, "l2", 0.0);
  } else if (kind == "batch_norm") {
    spec.kind = LayerKind::BatchNorm;
    spec.momentum = get_or<double>(d, "momentum", 0.99);
    spec.epsilon = get_or<double>(d, "epsilon", 1e-3);
  } else if (kind == "dropout") {
    spec.kind = LayerKind::Dropout;
    spec.rate = get_or<double>(d, "rate", 0.0);
  } else {
    throw py::value_error("unknown layer kind '" + kind + "'; expected dense, batch_norm or dropout");
  }
  return spec;
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
  float* base = (grads ? current_grads(net) : net.params()) + net.param_offset(l);
  const Index in = net.layer_inputs(l), out = net.layer_outputs(l);
  const auto make = grads ? read_only_view : view;
  switch (net.layer_spec(l).kind) {
    case LayerKind::Dense:
      return py::make_tuple(make(self, base, {in, out}), make(self, base + in * out, {out}));
    case LayerKind::BatchNorm: {
      if (grads) return py::make_tuple(make(self, base, {out}), make(self, base + out, {out}));
      float* stats = net.moving_stats() + net.stats_offset(l);
      return py::make_tuple(make(self, base, {out}), make(self, base + out, {out}), make(self, stats, {out}),
                            make(self, stats + out, {out}));
    }
    case LayerKind::Dropout:
      break;
  }
  return py::make_tuple();
}

}  // namespace

void bind_network(py::module_& m) {
  m.attr("DEFAULT_SPARSE_INPUT_MAX_DENSITY") = SparseInputProducts::kDefaultMaxDensity;
  py::class_<LockedNetwork, std::shared_ptr<LockedNetwork>>(m, "Network", R"doc(
Dense layers over one flat parameter buffer. Metrics come back as
(loss_sum, correct, count): divide by count for means.)doc")
      .def(py::init([](Index input_dim, std::vector<Index> units, std::vector<std::string> activations) {
             if (units.size() != activations.size())
               throw py::value_error("one activation per layer is required");
             std::vector<LayerSpec> specs;
             for (std::size_t i = 0; i < units.size(); ++i) {
               LayerSpec spec;
               spec.units = units[i];
               spec.activation = parse_activation(activations[i]);
               specs.push_back(spec);
             }
             return std::make_shared<LockedNetwork>(input_dim, std::move(specs));
           }),
           py::arg("input_dim"), py::arg("units"), py::arg("activations"), "A stack of Dense layers.")
      .def(py::init([](Index input_dim, const std::vector<py::dict>& layers) {
             std::vector<LayerSpec> specs;
             for (const py::dict& d : layers) specs.push_back(layer_spec(d));
             return std::make_shared<LockedNetwork>(input_dim, std::move(specs));
           }),
           py::arg("input_dim"), py::arg("layers"),
           "Layers as dicts: {'kind': 'dense', 'units', 'activation', 'l1', 'l2'}, "
           "{'kind': 'batch_norm', 'momentum', 'epsilon'}, {'kind': 'dropout', 'rate'}.")
      .def_property_readonly("input_dim", &Network::input_dim)
      .def_property_readonly("output_dim", &Network::output_dim)
      .def_property_readonly("num_layers", &Network::num_layers)
      .def_property_readonly("num_params", &Network::num_params)
      .def_property_readonly("capacity", &Network::capacity)
      .def_property_readonly("params", [](py::object self) {
        auto& net = self.cast<LockedNetwork&>();
        return view(self, net.params(), {net.num_params()});
      }, "All trainable parameters, a writable float32 view (zero copy).")
      .def_property_readonly("grads", [](py::object self) {
        auto& net = self.cast<LockedNetwork&>();
        return read_only_view(self, current_grads(net), {net.num_params()});
      }, "Gradients of the last training step, same layout as params (read-only). Reading them "
         "makes later steps store theirs, so the view stays current.")
      .def_property_readonly("moving_stats", [](py::object self) {
        auto& net = self.cast<LockedNetwork&>();
        return view(self, net.moving_stats(), {net.num_stats()});
      }, "BatchNormalization moving means and variances (not trained).")
      .def("layer_params", [](py::object self, Index l) { return layer_views(self, l, /*grads=*/false); },
           py::arg("layer"),
           "Views into params: Dense (W, b); BatchNormalization (gamma, beta, moving_mean, "
           "moving_variance); Dropout ().")
      .def("layer_grads", [](py::object self, Index l) { return layer_views(self, l, /*grads=*/true); },
           py::arg("layer"),
           "Read-only views into grads: Dense (dW, db); BatchNormalization (dgamma, dbeta).")
      .def("set_profiling", [](LockedNetwork& net, bool on) {
        std::lock_guard<std::mutex> lock(net.mutex);
        net.profile().enable(on);
        net.profile().reset();
      }, py::arg("on"), "Time the following training steps by phase (off by default), from zero.")
      .def("profile", [](LockedNetwork& net) {
        std::lock_guard<std::mutex> lock(net.mutex);
        py::dict seconds;
        for (int p = 0; p < int(Phase::Count); ++p)
          seconds[phase_name(Phase(p))] = net.profile().seconds(Phase(p));
        return seconds;
      }, "Seconds spent in each phase since set_profiling(True).")
      .def_property("sparse_input_max_density",
          [](LockedNetwork& net) {
            std::lock_guard<std::mutex> lock(net.mutex);
            return net.sparse_input().max_density;
          },
          [](LockedNetwork& net, double density) {
            if (!(density >= 0 && density <= 1))
              throw py::value_error("sparse_input_max_density must be in [0, 1]");
            std::lock_guard<std::mutex> lock(net.mutex);
            net.sparse_input().max_density = density;
          },
          "Fraction of nonzero inputs up to which the first layer multiplies through the "
          "nonzeros only (exact: zeros add nothing); 0 always uses the dense product.")
      .def_property_readonly("last_sparse_rows", [](LockedNetwork& net) {
        std::lock_guard<std::mutex> lock(net.mutex);
        return net.sparse_input().last_sparse_rows();
      }, "Rows of the last forward pass that took the sparse product.")
      .def_property_readonly("last_update_ranges", [](LockedNetwork& net) {
        std::lock_guard<std::mutex> lock(net.mutex);
        return net.last_update_ranges();
      }, "Stretches of params the last update visited, skipping zero gradients; 0: all of them.")
      .def_property_readonly("last_step_direct", [](LockedNetwork& net) {
        std::lock_guard<std::mutex> lock(net.mutex);
        return net.last_step_direct();
      }, "Whether the last train_step applied its update as it formed the gradients, storing none "
         "(batch 1, Dense layers only, no norm clipping, until grads are first read).")
      .def_property_readonly("last_step_split", [](LockedNetwork& net) {
        std::lock_guard<std::mutex> lock(net.mutex);
        return net.last_step_split();
      }, "Whether that direct step split the layers between two threads: the first layer's forward pass "
         "and update on one, the later layers' passes and updates on the other (several threads, rules "
         "other than plain SGD).")
      .def_property("defer_zero_steps",
          [](LockedNetwork& net) {
            std::lock_guard<std::mutex> lock(net.mutex);
            return net.defer_zero_steps();
          },
          [](LockedNetwork& net, bool on) {
            std::lock_guard<std::mutex> lock(net.mutex);
            net.set_defer_zero_steps(on);
          },
          "Whether train_epoch may defer the first layer's zero-gradient steps where the rule only "
          "decays its state there (RMSprop without momentum or centering, Adagrad, and Adam without "
          "amsgrad on rows whose first moment has settled): the same bits either way, applied before "
          "the call reports or returns. On by default.")
      .def_property_readonly("deferred_row_steps", [](LockedNetwork& net) {
        std::lock_guard<std::mutex> lock(net.mutex);
        return net.deferred_row_steps();
      }, "Kernel-row steps the last train_epoch deferred (0: none).")
      .def("seed_dropout", [](LockedNetwork& net, std::uint64_t seed) {
        std::lock_guard<std::mutex> lock(net.mutex);
        net.seed_dropout(seed);
      }, py::arg("seed"), "Seed the dropout masks of the following train_step calls.")
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
          ComputeScope compute;
          std::lock_guard<std::mutex> lock(net.mutex);
          m = net.train_step(b.x.data(), b.targets, b.rows);
        }
        return metrics_tuple(m);
      }, py::arg("x"), py::arg("y"), "Forward, loss, backward and update on one batch.")
      .def("allocations_in_train_steps", [](LockedNetwork& net, py::handle x, py::handle y, int steps) {
        Batch b = check_batch(net, x, y);
        if (b.rows < 1) throw py::value_error("x is empty");
        ComputeScope compute;
        std::lock_guard<std::mutex> lock(net.mutex);
        const std::uint64_t before = allocation_count();
        for (int s = 0; s < steps; ++s) net.train_step(b.x.data(), b.targets, b.rows);
        return allocation_count() - before;
      }, py::arg("x"), py::arg("y"), py::arg("steps"),
      "For tests: heap allocations made by this module during `steps` calls of train_step.")
      .def("allocations_in_train_epoch", [](LockedNetwork& net, py::handle x, py::handle y, Index batch_size,
                                            std::uint64_t seed) {
        Batch b = check_batch(net, x, y);
        if (b.rows < 1) throw py::value_error("x is empty");
        ComputeScope compute;
        std::lock_guard<std::mutex> lock(net.mutex);
        const std::uint64_t before = allocation_count();
        net.train_epoch(b.x.data(), b.targets, b.rows, batch_size, /*shuffle=*/true, seed);
        return allocation_count() - before;
      }, py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("seed") = 0,
      "For tests: heap allocations made by this module during one shuffled train_epoch.")
      .def("train_epoch", [](LockedNetwork& net, py::handle x, py::handle y, Index batch_size,
                             bool shuffle, std::uint64_t seed, py::object learning_rates,
                             py::object progress, double progress_interval) {
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
            m = net.train_epoch(b.x.data(), b.targets, b.rows, batch_size, shuffle, seed, rates);
          } catch (...) {
            net.set_progress(nullptr, progress_interval);
            throw;
          }
          net.set_progress(nullptr, progress_interval);
        }
        return metrics_tuple(m);
      }, py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("shuffle"), py::arg("seed"),
      py::arg("learning_rates") = py::none(), py::arg("progress") = py::none(),
      py::arg("progress_interval") = 0.1,
      "One epoch; learning_rates (float64, one per step) overrides the optimizer's rate step by step; "
      "progress(loss_sum, correct, count, steps_done, steps) is called at most every progress_interval "
      "seconds and after the last step.")
      .def("predict", [](LockedNetwork& net, py::handle x_obj, Index batch_size) {
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
      }, py::arg("x"), py::arg("batch_size"))
      .def("evaluate", [](LockedNetwork& net, py::handle x, py::handle y, Index batch_size) {
        Batch b = check_batch(net, x, y);
        if (batch_size < 1) throw py::value_error("batch_size must be >= 1");
        Metrics m;
        {
          ComputeScope compute;
          std::lock_guard<std::mutex> lock(net.mutex);
          m = net.evaluate(b.x.data(), b.targets, b.rows, batch_size);
        }
        return metrics_tuple(m);
      }, py::arg("x"), py::arg("y"), py::arg("batch_size"));
}

}  // namespace fastmlp::bindings
