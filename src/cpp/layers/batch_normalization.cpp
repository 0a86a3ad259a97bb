// BatchNormalization, Keras's: batch statistics in training, moving averages
// at inference (kernels/batchnorm.hpp has the formulas).
//   parameters gamma (out), beta (out); statistics moving_mean (out), moving_variance (out)
//   moving <- moving * momentum + batch * (1 - momentum), after each training batch
#include <memory>
#include <stdexcept>

#include "kernels/batchnorm.hpp"
#include "layers/layer.hpp"

namespace fastmlp {
namespace {

class BatchNormalization final : public Layer {
 public:
  BatchNormalization(Index width, double momentum, double epsilon)
      : Layer(width, width), momentum_(momentum), epsilon_(epsilon) {
    if (!(momentum >= 0 && momentum <= 1)) throw std::invalid_argument("BatchNormalization momentum must be in [0, 1]");
    if (!(epsilon > 0)) throw std::invalid_argument("BatchNormalization epsilon must be > 0");
  }

  const char* kind() const override { return "batch_norm"; }
  std::vector<std::vector<Index>> param_shapes() const override { return {{out_}, {out_}}; }
  std::vector<std::vector<Index>> stat_shapes() const override { return {{out_}, {out_}}; }

  void initialize(Rng&) override {
    std::fill_n(gamma(), out_, 1.0f);
    std::fill_n(beta(), out_, 0.0f);
    std::fill_n(moving_mean(), out_, 0.0f);
    std::fill_n(moving_var(), out_, 1.0f);
  }

  void forward(const float* x, Index n, const ForwardPass& pass) override {
    const float eps = float(epsilon_);
    if (!pass.training) {
      batchnorm_forward_infer(x, gamma(), beta(), moving_mean(), moving_var(), output(), n, out_, eps);
      return;
    }
    batchnorm_forward_train(x, gamma(), beta(), output(), x_hat_.data(), mean_.data(), var_.data(), inv_std_.data(), n,
                            out_, eps);
    const float keep = float(momentum_), take = float(1 - momentum_);
    float *mm = moving_mean(), *mv = moving_var();
    for (Index k = 0; k < out_; ++k) {
      mm[k] = mm[k] * keep + mean_[k] * take;
      mv[k] = mv[k] * keep + var_[k] * take;
    }
  }

  void backward(const float*, float* dy, float* dx, Index n) override {
    batchnorm_backward(dy, x_hat_.data(), gamma(), inv_std_.data(), dx ? dx : dy, grads_, grads_ + out_, n, out_);
  }

 protected:
  // Sized with the rest of the workspace, once the network has checked that its parameters fit in memory.
  void reserve_workspace(Index rows) override {
    x_hat_.resize(std::size_t(rows * out_));
    for (auto* v : {&mean_, &var_, &inv_std_}) v->resize(std::size_t(out_));
  }

 private:
  float* gamma() { return params_; }
  float* beta() { return params_ + out_; }
  float* moving_mean() { return stats_; }
  float* moving_var() { return stats_ + out_; }

  double momentum_, epsilon_;
  AlignedVector<float> x_hat_, mean_, var_, inv_std_;  // the last training batch's
};

}  // namespace

std::unique_ptr<Layer> make_batch_normalization(const LayerConfig& c, Index in) {
  return std::make_unique<BatchNormalization>(in, c.number("momentum", 0.99), c.number("epsilon", 1e-3));
}

}  // namespace fastmlp
