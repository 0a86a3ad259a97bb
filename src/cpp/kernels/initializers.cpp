#include "kernels/initializers.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fastmlp {

Initializer parse_initializer(const std::string& name) {
  if (name == "glorot_uniform") return Initializer::GlorotUniform;
  if (name == "glorot_normal") return Initializer::GlorotNormal;
  if (name == "he_uniform") return Initializer::HeUniform;
  if (name == "he_normal") return Initializer::HeNormal;
  if (name == "zeros") return Initializer::Zeros;
  throw std::invalid_argument("unknown initializer '" + name +
                              "'; expected glorot_uniform, glorot_normal, he_uniform, "
                              "he_normal or zeros");
}

namespace {
constexpr double kTruncatedNormalStddev = 0.87962566103423978;

void fill_uniform(float* w, Index n, double limit, Rng& rng) {
  for (Index i = 0; i < n; ++i) w[i] = float((2.0 * rng.uniform() - 1.0) * limit);
}

void fill_truncated_normal(float* w, Index n, double stddev, Rng& rng) {
  const double scale = stddev / kTruncatedNormalStddev;
  for (Index i = 0; i < n; ++i) {
    double z;
    do z = rng.normal();
    while (std::abs(z) > 2.0);
    w[i] = float(z * scale);
  }
}
}  // namespace

void initialize(Initializer init, float* w, Index fan_in, Index fan_out, Rng& rng) {
  const Index n = fan_in * fan_out;
  switch (init) {
    case Initializer::GlorotUniform: fill_uniform(w, n, std::sqrt(6.0 / double(fan_in + fan_out)), rng); break;
    case Initializer::HeUniform: fill_uniform(w, n, std::sqrt(6.0 / double(fan_in)), rng); break;
    case Initializer::GlorotNormal: fill_truncated_normal(w, n, std::sqrt(2.0 / double(fan_in + fan_out)), rng); break;
    case Initializer::HeNormal: fill_truncated_normal(w, n, std::sqrt(2.0 / double(fan_in)), rng); break;
    case Initializer::Zeros: std::fill(w, w + n, 0.0f); break;
  }
}

}  // namespace fastmlp
