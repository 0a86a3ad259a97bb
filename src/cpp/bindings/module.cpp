#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <omp.h>

#include "kernels/gemm.hpp"
#include "runtime/denormals.hpp"
#include "runtime/parallel.hpp"
#include "testing/allocation_counter.hpp"

namespace py = pybind11;

namespace fastmlp::bindings {
void bind_kernels(py::module_& m);
void bind_optim(py::module_& m);
void bind_network(py::module_& m);
void bind_bench(py::module_& m);
void bind_testing(py::module_& m);
}  // namespace fastmlp::bindings

#define FASTMLP_STR2(x) #x
#define FASTMLP_STR(x) FASTMLP_STR2(x)

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastmlp's C++ core: dense layers, losses and optimizer kernels over flat buffers";
  m.def("set_num_threads", &fastmlp::set_num_threads, py::arg("n"),
        "Threads used by matrix products and large elementwise loops (>= 1).");
  m.def("get_num_threads", &fastmlp::num_threads);
  m.def("set_flush_denormals", &fastmlp::set_flush_denormals, py::arg("on").noconvert(),
        "Flush subnormal floats to zero in fastmlp's computations (x86 FTZ and DAZ); off by default. "
        "Returns False, changing nothing, where the CPU cannot.");
  m.def("get_flush_denormals", &fastmlp::flush_denormals);
  m.def(
      "build_info",
      [] {
        py::dict info;
        info["arch"] = FASTMLP_ARCH;
        info["simd"] = Eigen::SimdInstructionSetsInUse();
        info["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                        std::to_string(EIGEN_MINOR_VERSION);
        info["openmp"] = _OPENMP;
        info["gemm"] = fastmlp::sgemm_kernel_name();
        info["compiler"] = __VERSION__;
        info["max_threads"] = omp_get_num_procs();
#ifdef FASTMLP_INSTRUMENT
        info["instrumented"] = true;
#else
        info["instrumented"] = false;
#endif
        return info;
      },
      "How this build was compiled: target architecture, SIMD sets, Eigen and OpenMP versions.");
  m.def("allocation_counter_enabled", &fastmlp::allocation_counter_enabled,
        "Whether this build counts its heap allocations (instrumented builds on Linux do).");
  fastmlp::bindings::bind_kernels(m);
  fastmlp::bindings::bind_optim(m);
  fastmlp::bindings::bind_network(m);
#ifdef FASTMLP_INSTRUMENT
  fastmlp::bindings::bind_testing(m);
  fastmlp::bindings::bind_bench(m);
#endif
}
