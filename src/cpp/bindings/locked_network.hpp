// What the network's bindings share with the instrumented build's
// (testing/testing_bindings.cpp): the locked network and the batch check.
#pragma once
#include <pybind11/pybind11.h>

#include <mutex>

#include "network.hpp"

namespace fastmlp::bindings {

namespace py = pybind11;

// One call at a time per network: its workspace is shared by all calls.
class LockedNetwork : public Network {
 public:
  using Network::Network;
  std::mutex mutex;
};

// (x, y) as the network needs them, checked; y's dtype says labels or targets.
struct Batch {
  py::object x_keepalive, y_keepalive;
  const float* x = nullptr;
  Targets targets;
  Index rows = 0;
};
Batch check_batch(LockedNetwork& net, py::handle x, py::handle y);

}  // namespace fastmlp::bindings
