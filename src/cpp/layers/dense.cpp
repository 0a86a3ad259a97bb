#include "layers/dense.hpp"

#include <cmath>
#include <stdexcept>

#include "kernels/dense.hpp"

namespace fastmlp {

Dense::Dense(Index in, Index units, Activation activation, Initializer kernel_initializer, double l1, double l2)
    : Layer(in, units), activation_(activation), kernel_initializer_(kernel_initializer), l1_(l1), l2_(l2) {
  if (units < 1) throw std::invalid_argument("every Dense layer needs units >= 1");
  if (!(l1 >= 0 && l2 >= 0)) throw std::invalid_argument("regularization factors must be >= 0");
}

std::unique_ptr<Layer> Dense::from_config(const LayerConfig& c, Index in) {
  const double units = c.number("units", 0);
  if (!(units >= 1 && units == std::floor(units) && units < 0x1p62))
    throw std::invalid_argument("every Dense layer needs a whole number of units >= 1 that can be allocated");
  return std::make_unique<Dense>(in, Index(units), parse_activation(c.text("activation", "linear")),
                                 parse_initializer(c.text("kernel_initializer", "glorot_uniform")), c.number("l1", 0),
                                 c.number("l2", 0));
}

void Dense::initialize(Rng& rng) {
  fastmlp::initialize(kernel_initializer_, kernel(), in_, out_, rng);
  std::fill_n(bias(), out_, 0.0f);
}

void Dense::set_takes_network_input(bool on) {
  if (on && !sparse_) sparse_ = std::make_unique<SparseInputProducts>();
  if (!on) sparse_.reset();
}

void Dense::forward(const float* x, Index n, const ForwardPass&) {
  float* y = output();
  if (sparse_)
    sparse_->forward(x, kernel(), y, n, in_, out_);
  else
    dense_forward_matmul(x, kernel(), y, n, in_, out_);
  add_bias(y, bias(), n, out_);
  if (!emit_logits_) activation_forward(activation_, y, y, n, out_);
}

void Dense::backward(const float* x, float* dy, float* dx, Index n) {
  if (!emit_logits_) activation_backward(activation_, output(), dy, dy, n, out_);
  if (sparse_)
    sparse_->backward(x, dy, kernel_grad(), n, in_, out_);
  else
    dense_backward_matmul<float>(x, nullptr, dy, nullptr, kernel_grad(), n, in_, out_, /*accumulate=*/false);
  if (dx) gemm(Op::None, Op::Transpose, n, in_, out_, dy, out_, kernel(), out_, dx, in_, /*accumulate=*/false);
  bias_backward(dy, kernel_grad() + in_ * out_, n, out_, /*accumulate=*/false);
  if (!has_regularizer()) return;
  if (sparse_) sparse_->forget_zero_rows();  // the penalty's gradient fills every row
  const float l1 = float(l1_), two_l2 = float(2 * l2_);
  const float* w = kernel();
  float* g = kernel_grad();
  for (Index i = 0, size = in_ * out_; i < size; ++i) g[i] += two_l2 * w[i] + l1 * float((w[i] > 0) - (w[i] < 0));
}

double Dense::penalty() const {
  if (!has_regularizer()) return 0;
  const float* w = params_;
  double abs_sum = 0, sq_sum = 0;
  for (Index i = 0, size = in_ * out_; i < size; ++i) {
    abs_sum += std::abs(double(w[i]));
    sq_sum += double(w[i]) * double(w[i]);
  }
  return l1_ * abs_sum + l2_ * sq_sum;
}

void Dense::finish_logits(const float* logits, float* out, Index n) const {
  if (emit_logits_)
    activation_forward(activation_, logits, out, n, out_);
  else
    Layer::finish_logits(logits, out, n);
}

}  // namespace fastmlp
