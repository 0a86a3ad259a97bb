// Flushing subnormal float results to zero, and reading subnormal inputs as
// zero (x86's FTZ and DAZ bits of MXCSR): off by default, as in NumPy and
// PyTorch; TensorFlow and JAX's CPU runtime always run with both on. Adam's
// and RMSprop's moments decay through the subnormal range wherever the
// gradient stays zero (inputs that are always 0), and on this CPU each such
// operation is several times slower. Flushing changes only values below
// 2^-126 (~1.2e-38), to zero.
#pragma once

namespace fastmlp {

// Whether this build can flush (x86 with SSE; elsewhere the setting is refused).
bool flush_denormals_supported();
// Applies to fastmlp's computing calls from the next one on; false when unsupported.
bool set_flush_denormals(bool on);
bool flush_denormals();

// While alive, the calling thread and fastmlp's OpenMP threads compute in the
// chosen mode; the calling thread gets its own mode back on destruction (the
// workers are put back to IEEE behavior). Costs nothing while the setting is off.
class DenormalScope {
 public:
  DenormalScope();
  ~DenormalScope();
  DenormalScope(const DenormalScope&) = delete;
  DenormalScope& operator=(const DenormalScope&) = delete;

 private:
  bool active_ = false;
  unsigned saved_ = 0;
};

// Inside a DenormalScope, while this is alive the calling thread is back in
// IEEE mode: for Python callbacks run in the middle of a computation.
class DenormalPause {
 public:
  DenormalPause();
  ~DenormalPause();
  DenormalPause(const DenormalPause&) = delete;
  DenormalPause& operator=(const DenormalPause&) = delete;

 private:
  bool active_ = false;
  unsigned saved_ = 0;
};

}  // namespace fastmlp
