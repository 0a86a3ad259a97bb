#include "runtime/denormals.hpp"

#include <omp.h>

#include <atomic>

#include "runtime/parallel.hpp"

#if defined(__SSE__)
#include <xmmintrin.h>
#define FASTMLP_HAS_MXCSR 1
#endif

namespace fastmlp {
namespace {
std::atomic<bool> g_flush{false};
// Active scopes on this thread: its workers go back to IEEE mode only when
// the last one ends (a callback paused inside one may start another). Per
// thread, since libgomp gives each thread that opens regions its own pool.
thread_local int t_active_scopes = 0;

#ifdef FASTMLP_HAS_MXCSR
constexpr unsigned kFlushBits = 0x8040;  // FTZ (bit 15) and DAZ (bit 6)
unsigned read_mode() { return _mm_getcsr(); }
void write_mode(unsigned mode) { _mm_setcsr(mode); }
#else
constexpr unsigned kFlushBits = 0;
unsigned read_mode() { return 0; }
void write_mode(unsigned) {}
#endif

// Sets (or clears) the bits on every thread of the team fastmlp's loops use.
// libgomp keeps one pool of threads for all regions of up to this size, so
// the later regions run on these same threads.
void set_workers(bool on) {
  const int threads = num_threads();
  if (threads < 2) return;
#pragma omp parallel num_threads(threads)
  {
    if (omp_get_thread_num() != 0) write_mode(on ? (read_mode() | kFlushBits) : (read_mode() & ~kFlushBits));
  }
}
}  // namespace

bool flush_denormals_supported() { return kFlushBits != 0; }

bool set_flush_denormals(bool on) {
  if (on && !flush_denormals_supported()) return false;
  g_flush.store(on, std::memory_order_relaxed);
  return true;
}

bool flush_denormals() { return g_flush.load(std::memory_order_relaxed); }

DenormalScope::DenormalScope() {
  if (!flush_denormals()) return;
  saved_ = read_mode();
  active_ = true;
  write_mode(saved_ | kFlushBits);
  // The outermost scope on this thread sets the workers, even where this
  // thread already flushes: its workers need not (they did not inherit it).
  if (t_active_scopes++ == 0) set_workers(true);
}

DenormalScope::~DenormalScope() {
  if (!active_) return;
  if (--t_active_scopes == 0) set_workers(false);
  write_mode(saved_);
}

DenormalPause::DenormalPause() {
  saved_ = read_mode();
  if ((saved_ & kFlushBits) == 0) return;
  active_ = true;
  write_mode(saved_ & ~kFlushBits);
}

DenormalPause::~DenormalPause() {
  if (active_) write_mode(saved_);
}

}  // namespace fastmlp
