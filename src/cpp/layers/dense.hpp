// Dense layer: y = activation(x W + b), Keras's Dense.
//   x (n, in), W (in, out), b (out) -> y (n, out)
//   backward: dz = activation'(y) * dy;  dW = x^T dz;  db = sum of dz's rows;
//             dx = dz W^T;  with a kernel regularizer, dW += l1 sign(W) + 2 l2 W.
// As the network's first layer it multiplies through the input's nonzeros
// where the input is sparse enough (kernels/sparse_input.hpp): skipping a
// zero adds nothing, so the result is exact.
#pragma once
#include <memory>

#include "kernels/activations.hpp"
#include "kernels/initializers.hpp"
#include "kernels/sparse_input.hpp"
#include "layers/layer.hpp"

namespace fastmlp {

class Dense final : public Layer {
 public:
  Dense(Index in, Index units, Activation activation, Initializer kernel_initializer, double l1, double l2);
  static std::unique_ptr<Layer> from_config(const LayerConfig& config, Index in);

  const char* kind() const override { return "dense"; }
  std::vector<std::vector<Index>> param_shapes() const override { return {{in_, out_}, {out_}}; }
  void initialize(Rng& rng) override;
  void forward(const float* x, Index n, const ForwardPass& pass) override;
  void backward(const float* x, float* dy, float* dx, Index n) override;
  double penalty() const override;
  bool can_emit_logits() const override { return activation_ == Activation::Softmax; }
  void set_emit_logits(bool on) override { emit_logits_ = on && can_emit_logits(); }
  void finish_logits(const float* logits, float* out, Index n) const override;
  void set_takes_network_input(bool on) override;

  Activation activation() const { return activation_; }
  bool emits_logits() const { return emit_logits_; }
  bool has_regularizer() const { return l1_ > 0 || l2_ > 0; }
  float* kernel() { return params_; }
  float* bias() { return params_ + in_ * out_; }
  float* kernel_grad() { return grads_; }
  // The sparse-input variant of the products; null where it is off.
  SparseInputProducts* sparse_input() { return sparse_.get(); }
  const SparseInputProducts* sparse_input() const { return sparse_.get(); }

 private:
  Activation activation_;
  Initializer kernel_initializer_;
  double l1_, l2_;
  bool emit_logits_ = false;
  std::unique_ptr<SparseInputProducts> sparse_;
};

}  // namespace fastmlp
