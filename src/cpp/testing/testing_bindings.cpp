// Bindings of the instrumented build only (CMake option FASTMLP_INSTRUMENT):
// heap allocations counted over training steps, and the step profile. Tests
// and bench/ use them; a plain build has none of them.
#include <pybind11/pybind11.h>

#include "bindings/compute_scope.hpp"
#include "bindings/locked_network.hpp"
#include "testing/allocation_counter.hpp"

namespace fastmlp::bindings {

void bind_testing(py::module_& m) {
  m.def("allocation_count", &allocation_count, "Heap allocations made so far by this module's own code.");
  // Methods added to the class bind_network registered.
  auto network = py::reinterpret_borrow<py::class_<LockedNetwork, std::shared_ptr<LockedNetwork>>>(m.attr("Network"));
  network
      .def(
          "allocations_in_train_steps",
          [](LockedNetwork& net, py::handle x, py::handle y, int steps) {
            Batch b = check_batch(net, x, y);
            if (b.rows < 1) throw py::value_error("x is empty");
            ComputeScope compute;
            std::lock_guard<std::mutex> lock(net.mutex);
            const std::uint64_t before = allocation_count();
            for (int s = 0; s < steps; ++s) net.train_step(b.x, b.targets, b.rows);
            return allocation_count() - before;
          },
          py::arg("x"), py::arg("y"), py::arg("steps"),
          "Heap allocations made by this module during `steps` calls of train_step.")
      .def(
          "allocations_in_train_epoch",
          [](LockedNetwork& net, py::handle x, py::handle y, Index batch_size, std::uint64_t seed) {
            Batch b = check_batch(net, x, y);
            if (b.rows < 1) throw py::value_error("x is empty");
            ComputeScope compute;
            std::lock_guard<std::mutex> lock(net.mutex);
            const std::uint64_t before = allocation_count();
            net.train_epoch(b.x, b.targets, b.rows, batch_size, /*shuffle=*/true, seed);
            return allocation_count() - before;
          },
          py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("seed") = 0,
          "Heap allocations made by this module during one shuffled train_epoch.")
      .def(
          "set_profiling",
          [](LockedNetwork& net, bool on) {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(net.mutex);
            net.profile().enable(on);
            net.profile().reset();
          },
          py::arg("on"), "Time the following training steps by phase, from zero.")
      .def(
          "profile",
          [](LockedNetwork& net) {
            py::dict seconds;
            for (int p = 0; p < int(Phase::Count); ++p) seconds[phase_name(Phase(p))] = net.profile().seconds(Phase(p));
            return seconds;
          },
          "Seconds spent in each phase since set_profiling(True).");
}

}  // namespace fastmlp::bindings
