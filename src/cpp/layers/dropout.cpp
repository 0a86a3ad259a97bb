// Dropout, inverted as in Keras: in training each value is kept with
// probability 1 - rate and scaled by 1 / (1 - rate), else zeroed; at
// inference the layer passes its input through.
//   forward:  y = x * mask;  backward: dx = dy * mask   (mask (n, out), saved)
#include <algorithm>
#include <memory>
#include <stdexcept>

#include "layers/layer.hpp"

namespace fastmlp {
namespace {

class Dropout final : public Layer {
 public:
  Dropout(Index width, double rate) : Layer(width, width), rate_(rate) {
    if (!(rate >= 0 && rate < 1)) throw std::invalid_argument("Dropout rate must be in [0, 1)");
  }

  const char* kind() const override { return "dropout"; }

  void forward(const float* x, Index n, const ForwardPass& pass) override {
    const Index size = n * out_;
    float* y = output();
    masked_ = pass.training && rate_ > 0;
    if (!masked_) {
      std::copy(x, x + size, y);
      return;
    }
    const float scale = float(1.0 / (1.0 - rate_));
    float* mask = mask_.data();
    for (Index i = 0; i < size; ++i) mask[i] = pass.rng->uniform() >= rate_ ? scale : 0.0f;
    for (Index i = 0; i < size; ++i) y[i] = x[i] * mask[i];
  }

  void backward(const float*, float* dy, float* dx, Index n) override {
    if (!dx) return;
    const Index size = n * out_;
    if (!masked_) {
      std::copy(dy, dy + size, dx);
      return;
    }
    const float* mask = mask_.data();
    for (Index i = 0; i < size; ++i) dx[i] = dy[i] * mask[i];
  }

 protected:
  void reserve_workspace(Index rows) override { mask_.resize(std::size_t(rows * out_)); }

 private:
  double rate_;
  bool masked_ = false;  // the last forward pass drew a mask
  AlignedVector<float> mask_;
};

}  // namespace

std::unique_ptr<Layer> make_dropout(const LayerConfig& c, Index in) {
  return std::make_unique<Dropout>(in, c.number("rate", 0));
}

}  // namespace fastmlp
