// Activation, Keras's layer of that name: y = f(x) value by value (softmax
// row by row), with f one of kernels/activations.hpp's functions.
//   backward: dx = f'(x) dy, computed from y
#include <memory>

#include "kernels/activations.hpp"
#include "layers/layer.hpp"

namespace fastmlp {
namespace {

class ActivationLayer final : public Layer {
 public:
  ActivationLayer(Index width, Activation f) : Layer(width, width), f_(f) {}

  const char* kind() const override { return "activation"; }

  void forward(const float* x, Index n, const ForwardPass&) override { activation_forward(f_, x, output(), n, out_); }

  void backward(const float*, float* dy, float* dx, Index n) override {
    if (dx) activation_backward(f_, output(), dy, dx, n, out_);
  }

 private:
  Activation f_;
};

}  // namespace

std::unique_ptr<Layer> make_activation(const LayerConfig& c, Index in) {
  return std::make_unique<ActivationLayer>(in, parse_activation(c.text("activation", "linear")));
}

}  // namespace fastmlp
