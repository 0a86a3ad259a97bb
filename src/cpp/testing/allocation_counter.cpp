#include "testing/allocation_counter.hpp"

#include <atomic>
#include <cstddef>
#include <new>

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

namespace fastmlp {

#ifdef FASTMLP_COUNT_ALLOCATIONS
bool allocation_counter_enabled() { return true; }
#else
bool allocation_counter_enabled() { return false; }
#endif

std::uint64_t allocation_count() { return g_allocations.load(std::memory_order_relaxed); }

}  // namespace fastmlp

#ifdef FASTMLP_COUNT_ALLOCATIONS
// The linker sends this module's calls to X to __wrap_X, and __wrap_X's call
// to __real_X on to the real X. The C++ names are operator new's overloads,
// mangled: new, new[], aligned, and nothrow.
#define FASTMLP_COUNTED(ret, name, params, args)           \
  extern "C" ret __real_##name params;                     \
  extern "C" ret __wrap_##name params {                    \
    g_allocations.fetch_add(1, std::memory_order_relaxed); \
    return __real_##name args;                             \
  }

using std::size_t;
FASTMLP_COUNTED(void*, malloc, (size_t n), (n))
FASTMLP_COUNTED(void*, calloc, (size_t count, size_t n), (count, n))
FASTMLP_COUNTED(void*, realloc, (void* p, size_t n), (p, n))
FASTMLP_COUNTED(void*, aligned_alloc, (size_t alignment, size_t n), (alignment, n))
FASTMLP_COUNTED(int, posix_memalign, (void** p, size_t alignment, size_t n), (p, alignment, n))
FASTMLP_COUNTED(char*, strdup, (const char* s), (s))
FASTMLP_COUNTED(void*, _Znwm, (size_t n), (n))
FASTMLP_COUNTED(void*, _Znam, (size_t n), (n))
FASTMLP_COUNTED(void*, _ZnwmSt11align_val_t, (size_t n, std::align_val_t a), (n, a))
FASTMLP_COUNTED(void*, _ZnamSt11align_val_t, (size_t n, std::align_val_t a), (n, a))
FASTMLP_COUNTED(void*, _ZnwmRKSt9nothrow_t, (size_t n, const std::nothrow_t& t), (n, t))
FASTMLP_COUNTED(void*, _ZnamRKSt9nothrow_t, (size_t n, const std::nothrow_t& t), (n, t))
#endif
