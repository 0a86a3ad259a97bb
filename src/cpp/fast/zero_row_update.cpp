#include "fast/zero_row_update.hpp"

#include "layers/dense.hpp"

namespace fastmlp {

void ZeroRowUpdate::attach(Network& network) {
  ranges_.reserve(std::size_t(network.layer(0).inputs() / 2 + 2));  // alternate rows, and the rest
}

bool ZeroRowUpdate::applies(const Network& network, Index) const {
  const auto* first = dynamic_cast<const Dense*>(&network.layer(0));
  return first && first->sparse_input() && first->sparse_input()->max_density > 0 &&
         network.optimizer().skips_zero_gradients();
}

Metrics ZeroRowUpdate::step(Network& network, const float* x, Targets y, Index n) {
  const Metrics m = network.gradients(x, y, n);
  last_ranges_ = nonzero_ranges(network);
  if (last_ranges_ == 0) {
    network.update();
  } else {
    StepProfile::Scope scope(network.profile(), Phase::Optimizer);
    network.optimizer().step_ranges(network.params(), network.gradient_buffer(), network.num_params(), ranges_.data(),
                                    last_ranges_);
  }
  return m;
}

std::size_t ZeroRowUpdate::nonzero_ranges(Network& network) {
  auto& first = static_cast<Dense&>(network.layer(0));
  const std::uint8_t* maybe_nonzero = first.sparse_input()->maybe_nonzero_rows();
  if (!maybe_nonzero) return 0;
  const Index in = first.inputs(), out = first.outputs(), total = network.num_params();
  ranges_.clear();
  // Runs of the kernel rows that may be nonzero, then the rest of the buffer
  // (the bias and the later layers) in one stretch.
  for (Index k = 0; k < in; ++k) {
    if (!maybe_nonzero[k]) continue;
    if (!ranges_.empty() && ranges_.back().end == k * out)
      ranges_.back().end += out;
    else
      ranges_.push_back({k * out, (k + 1) * out});
  }
  const Index rest = in * out;
  if (!ranges_.empty() && ranges_.back().end == rest)
    ranges_.back().end = total;
  else
    ranges_.push_back({rest, total});
  Index covered = 0;
  for (const Optimizer::Range& r : ranges_) covered += r.end - r.begin;
  return covered < total ? ranges_.size() : 0;
}

}  // namespace fastmlp
