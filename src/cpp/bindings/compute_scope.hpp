// What every computing call into the core holds while it runs: the GIL
// released (other Python threads go on), and the denormal mode chosen with
// set_flush_denormals applied to the threads doing the work (denormals.hpp).
#pragma once
#include <pybind11/pybind11.h>

#include "runtime/denormals.hpp"

namespace fastmlp::bindings {

struct ComputeScope {
  pybind11::gil_scoped_release release;  // first taken, last given back
  DenormalScope denormals;
};

}  // namespace fastmlp::bindings
