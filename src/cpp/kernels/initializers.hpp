// Weight initializers, Keras's definitions (fan_in = in, fan_out = out):
//   glorot_uniform U(-l, l), l = sqrt(6 / (fan_in + fan_out))   (Keras's default)
//   he_uniform     U(-l, l), l = sqrt(6 / fan_in)
//   glorot_normal  truncated N(0, s), s = sqrt(2 / (fan_in + fan_out)) / 0.8796...
//   he_normal      truncated N(0, s), s = sqrt(2 / fan_in) / 0.8796...
//   zeros
// Truncated normals redraw values beyond two standard deviations; the divisor
// 0.87962566103423978 restores the requested variance after truncation.
#pragma once
#include <string>

#include "runtime/matrix.hpp"
#include "runtime/rng.hpp"

namespace fastmlp {

enum class Initializer { GlorotUniform, GlorotNormal, HeUniform, HeNormal, Zeros };

Initializer parse_initializer(const std::string& name);

// Fills w (fan_in x fan_out values) drawing from rng.
void initialize(Initializer init, float* w, Index fan_in, Index fan_out, Rng& rng);

}  // namespace fastmlp
