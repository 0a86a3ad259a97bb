// How many heap allocations this module's own code has made: every malloc
// family call and operator new in it is routed through a counter by the
// linker (--wrap, see CMakeLists.txt). Tests use it to check that a training
// step in steady state allocates nothing. Allocations inside other libraries
// (libstdc++, libgomp, NumPy) are not seen.
#pragma once
#include <cstdint>

namespace fastmlp {

// True where the build routes allocations through the counter (Linux).
bool allocation_counter_enabled();
std::uint64_t allocation_count();

}  // namespace fastmlp
