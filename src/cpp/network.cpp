#include "network.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "dense.hpp"
#include "rng.hpp"

namespace fastmlp {

Network::Network(Index input_dim, std::vector<Index> units, std::vector<Activation> activations)
    : input_dim_(input_dim), units_(std::move(units)), activations_(std::move(activations)) {
  if (input_dim_ < 1) throw std::invalid_argument("input_dim must be >= 1");
  if (units_.empty()) throw std::invalid_argument("a network needs at least one layer");
  if (units_.size() != activations_.size())
    throw std::invalid_argument("one activation per layer is required");
  Index offset = 0;
  for (Index l = 0; l < num_layers(); ++l) {
    if (units_[l] < 1) throw std::invalid_argument("every layer needs units >= 1");
    offsets_.push_back(offset);
    offset += (layer_inputs(l) + 1) * units_[l];
  }
  params_.assign(offset, 0.0f);
  grads_.assign(offset, 0.0f);
  outputs_.resize(units_.size());
}

void Network::initialize(const std::vector<Initializer>& kernel_init, std::uint64_t seed) {
  if (Index(kernel_init.size()) != num_layers())
    throw std::invalid_argument("one kernel initializer per layer is required");
  Rng rng(seed);
  for (Index l = 0; l < num_layers(); ++l) {
    fastmlp::initialize(kernel_init[l], params_.data() + weight_offset(l), layer_inputs(l),
                        units_[l], rng);
    std::fill_n(params_.data() + bias_offset(l), units_[l], 0.0f);
  }
}

void Network::set_loss(Loss loss) {
  if (loss != Loss::MeanSquaredError && activations_.back() != Activation::Softmax)
    throw std::invalid_argument(
        "cross-entropy losses need a softmax output layer; the last layer's activation is '" +
        std::string(activation_name(activations_.back())) + "'");
  loss_ = loss;
  loss_set_ = true;
}

void Network::set_optimizer(std::shared_ptr<Optimizer> optimizer) {
  if (!optimizer) throw std::invalid_argument("optimizer must not be None");
  optimizer->bind(num_params());
  optimizer_ = std::move(optimizer);
  tensor_spans_.clear();
  for (Index l = 0; l < num_layers(); ++l) {
    const Index w = weight_offset(l), b = bias_offset(l);
    tensor_spans_.push_back({params_.data() + w, grads_.data() + w, b - w});
    tensor_spans_.push_back({params_.data() + b, grads_.data() + b, units_[l]});
  }
}

void Network::reserve(Index n) {
  if (n <= capacity_) return;
  Index widest = input_dim_;
  for (Index l = 0; l < num_layers(); ++l) {
    outputs_[l].resize(n * units_[l]);
    widest = std::max(widest, units_[l]);
  }
  delta_.resize(n * widest);
  delta_next_.resize(n * widest);
  batch_x_.resize(n * input_dim_);
  batch_dense_.resize(n * output_dim());
  batch_labels_.resize(n);
  capacity_ = n;
}

const float* Network::forward(const float* x, Index n) {
  const float* in = x;
  for (Index l = 0; l < num_layers(); ++l) {
    float* out = outputs_[l].data();
    dense_forward(in, params_.data() + weight_offset(l), params_.data() + bias_offset(l), out, n,
                  layer_inputs(l), units_[l]);
    const bool last = l == num_layers() - 1;
    if (!(last && fused_softmax_loss())) activation_forward(activations_[l], out, out, n, units_[l]);
    in = out;
  }
  return in;
}

Metrics Network::loss_and_output_grad(Targets y, Index n, bool with_grad) {
  const Index K = output_dim();
  const float* out = outputs_.back().data();
  float* grad = with_grad ? delta_.data() : nullptr;
  const float scale = 1.0f / float(n);
  Metrics m;
  m.count = n;
  switch (loss_) {
    case Loss::SparseCategoricalCrossentropy:
      m.loss_sum = softmax_sparse_crossentropy(out, y.labels, n, K, grad, scale, &m.correct);
      break;
    case Loss::CategoricalCrossentropy:
      m.loss_sum = softmax_crossentropy(out, y.dense, n, K, grad, scale, &m.correct);
      break;
    case Loss::MeanSquaredError:
      m.loss_sum = mean_squared_error(out, y.dense, n, K, grad, scale, &m.correct);
      if (grad) activation_backward(activations_.back(), out, grad, grad, n, K);
      break;
  }
  return m;
}

void Network::backward(const float* x, Index n) {
  // delta_ holds dL/dz of the last layer; walk down, swapping buffers.
  for (Index l = num_layers() - 1; l >= 0; --l) {
    const float* in = l == 0 ? x : outputs_[l - 1].data();
    float* dx = l == 0 ? nullptr : delta_next_.data();
    dense_backward(in, params_.data() + weight_offset(l), delta_.data(), dx,
                   grads_.data() + weight_offset(l), grads_.data() + bias_offset(l), n,
                   layer_inputs(l), units_[l], /*accumulate=*/false);
    if (l > 0) {
      activation_backward(activations_[l - 1], outputs_[l - 1].data(), dx, dx, n, units_[l - 1]);
      std::swap(delta_, delta_next_);
    }
  }
}

Metrics Network::train_step(const float* x, Targets y, Index n) {
  if (!loss_set_) throw std::logic_error("set a loss before training");
  if (!optimizer_) throw std::logic_error("set an optimizer before training");
  if (n < 1) throw std::invalid_argument("a batch needs at least one row");
  reserve(n);
  forward(x, n);
  const Metrics m = loss_and_output_grad(y, n, /*with_grad=*/true);
  backward(x, n);
  apply_optimizer();
  return m;
}

void Network::apply_optimizer() {
  if (optimizer_->wants_tensor_spans())
    optimizer_->step(tensor_spans_.data(), tensor_spans_.size());
  else
    optimizer_->step(params_.data(), grads_.data(), num_params());
}

Targets Network::slice(Targets y, Index start, Index output_dim) {
  Targets s;
  if (y.labels) s.labels = y.labels + start;
  if (y.dense) s.dense = y.dense + start * output_dim;
  return s;
}

Metrics Network::train_epoch(const float* x, Targets y, Index n, Index batch_size, bool shuffle,
                             std::uint64_t seed, const double* learning_rates) {
  if (batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
  if (n < 1) throw std::invalid_argument("no training rows");
  if (!loss_set_) throw std::logic_error("set a loss before training");
  if (!optimizer_) throw std::logic_error("set an optimizer before training");
  const Index batch = std::min(batch_size, n);
  reserve(batch);
  Metrics total;
  if (!shuffle) {
    for (Index start = 0, step = 0; start < n; start += batch, ++step) {
      const Index rows = std::min(batch, n - start);
      if (learning_rates) optimizer_->learning_rate = learning_rates[step];
      total.add(train_step(x + start * input_dim_, slice(y, start, output_dim()), rows));
    }
    return total;
  }
  // Fisher-Yates over row indices; then each mini-batch is gathered into a
  // contiguous buffer so the matrix products see dense rows.
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), Index(0));
  Rng rng(seed);
  for (Index i = n - 1; i > 0; --i) std::swap(order_[i], order_[rng.below(std::uint64_t(i) + 1)]);
  const Index K = output_dim();
  for (Index start = 0, step = 0; start < n; start += batch, ++step) {
    const Index rows = std::min(batch, n - start);
    if (learning_rates) optimizer_->learning_rate = learning_rates[step];
    Targets batch_y;
    for (Index r = 0; r < rows; ++r) {
      const Index src = order_[start + r];
      std::memcpy(batch_x_.data() + r * input_dim_, x + src * input_dim_,
                  sizeof(float) * input_dim_);
      if (y.labels) batch_labels_[r] = y.labels[src];
      if (y.dense) std::memcpy(batch_dense_.data() + r * K, y.dense + src * K, sizeof(float) * K);
    }
    if (y.labels) batch_y.labels = batch_labels_.data();
    if (y.dense) batch_y.dense = batch_dense_.data();
    total.add(train_step(batch_x_.data(), batch_y, rows));
  }
  return total;
}

void Network::predict(const float* x, Index n, float* out, Index batch_size) {
  if (batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
  const Index batch = std::min(batch_size, std::max<Index>(n, 1));
  reserve(batch);
  const Index K = output_dim();
  for (Index start = 0; start < n; start += batch) {
    const Index rows = std::min(batch, n - start);
    const float* result = forward(x + start * input_dim_, rows);
    if (fused_softmax_loss())
      activation_forward(Activation::Softmax, result, out + start * K, rows, K);
    else
      std::memcpy(out + start * K, result, sizeof(float) * rows * K);
  }
}

Metrics Network::evaluate(const float* x, Targets y, Index n, Index batch_size) {
  if (!loss_set_) throw std::logic_error("set a loss before evaluating");
  if (batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
  const Index batch = std::min(batch_size, std::max<Index>(n, 1));
  reserve(batch);
  Metrics total;
  for (Index start = 0; start < n; start += batch) {
    const Index rows = std::min(batch, n - start);
    forward(x + start * input_dim_, rows);
    total.add(loss_and_output_grad(slice(y, start, output_dim()), rows, /*with_grad=*/false));
  }
  return total;
}

}  // namespace fastmlp
