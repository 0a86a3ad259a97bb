#include "network.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include <unistd.h>

#include "runtime/parallel.hpp"
#include "step_strategy.hpp"

namespace fastmlp {

// How many rows ahead the mini-batch gather prefetches.
constexpr Index kGatherPrefetchRows = 4;

Network::Network(Index input_dim, std::vector<std::unique_ptr<Layer>> layers)
    : input_dim_(input_dim), layers_(std::move(layers)) {
  if (input_dim_ < 1) throw std::invalid_argument("input_dim must be >= 1");
  if (layers_.empty()) throw std::invalid_argument("a network needs at least one layer");
  Index width = input_dim_, params = 0, stats = 0;
  for (const auto& layer : layers_) {
    if (layer->inputs() != width) throw std::invalid_argument("a layer's inputs must match the layer before");
    param_offsets_.push_back(params);
    stat_offsets_.push_back(stats);
    if (__builtin_add_overflow(params, layer->param_count(), &params) ||
        __builtin_add_overflow(stats, layer->stat_count(), &stats))
      throw std::invalid_argument("the network has too many parameters to allocate");
    width = layer->outputs();
  }
  // Parameters, gradients and statistics are all allocated and written now:
  // more than the machine holds would end the process, not raise.
  const double bytes = 4.0 * (2.0 * double(params) + double(stats));
  const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  if (memory > 0 && bytes > memory) {
    char message[160];
    std::snprintf(message, sizeof message, "the network's parameters need %.1f GB, more than this machine's %.1f GB",
                  bytes / 1e9, memory / 1e9);
    throw std::length_error(message);
  }
  params_.assign(params, 0.0f);
  grads_.assign(params, 0.0f);
  stats_.assign(stats, 0.0f);
  for (Index l = 0; l < num_layers(); ++l) {
    Layer& layer = *layers_[l];
    layer.attach(params_.data() + param_offsets_[l], grads_.data() + param_offsets_[l],
                 stats_.data() + stat_offsets_[l]);
    Index at = param_offsets_[l];
    for (const auto& shape : layer.param_shapes()) {
      const Index size = shape_size(shape);
      tensor_spans_.push_back({params_.data() + at, grads_.data() + at, size});
      at += size;
    }
  }
  layers_.front()->set_takes_network_input(true);
  layers_.back()->set_emit_logits(true);  // the default loss is a cross-entropy
  strategies_ = fast_step_strategies();   // fast/: without this line, the reference step alone
  for (auto& strategy : strategies_) strategy->attach(*this);
}

Network::~Network() = default;

void Network::initialize(std::uint64_t seed) {
  Rng rng(seed);
  for (auto& layer : layers_) layer->initialize(rng);
}

void Network::set_loss(Loss loss) {
  Layer& last = *layers_.back();
  const bool cross_entropy = loss != Loss::MeanSquaredError;
  if (cross_entropy && !last.can_emit_logits())
    throw std::invalid_argument("cross-entropy losses need a Dense softmax output layer");
  last.set_emit_logits(cross_entropy);
  loss_ = loss;
  loss_set_ = true;
}

void Network::set_optimizer(std::shared_ptr<Optimizer> optimizer) {
  if (!optimizer) throw std::invalid_argument("optimizer must not be None");
  optimizer->bind(num_params());
  optimizer_ = std::move(optimizer);
}

float* Network::grads() {
  gradients_observed_ = true;
  if (last_strategy_) last_strategy_->write_gradients(*this);
  return grads_.data();
}

void Network::reserve(Index n) {
  if (n <= capacity_) return;
  Index widest = input_dim_;
  for (auto& layer : layers_) {
    layer->reserve(n);
    widest = std::max(widest, layer->outputs());
  }
  delta_.resize(n * widest);
  delta_next_.resize(n * widest);
  batch_x_.resize(n * input_dim_);
  batch_dense_.resize(n * output_dim());
  batch_labels_.resize(n);
  capacity_ = n;
}

void Network::check_trainable() const {
  if (!loss_set_) throw std::logic_error("set a loss before training");
  if (!optimizer_) throw std::logic_error("set an optimizer before training");
}

// ---- the reference step: forward, loss, backward, update

Metrics Network::train_step(const float* x, Targets y, Index n) {
  check_trainable();
  if (n < 1) throw std::invalid_argument("a batch needs at least one row");
  reserve(n);
  StepStrategy* chosen = nullptr;
  for (auto& strategy : strategies_) {
    if (strategy->applies(*this, n)) {
      chosen = strategy.get();
      break;
    }
  }
  if (last_strategy_ && last_strategy_ != chosen) last_strategy_->settle(*this);
  last_strategy_ = chosen;
  return chosen ? chosen->step(*this, x, y, n) : reference_step(x, y, n);
}

void Network::settle() {
  for (auto& strategy : strategies_) strategy->settle(*this);
}

Metrics Network::reference_step(const float* x, Targets y, Index n) {
  const Metrics m = gradients(x, y, n);
  update();
  return m;
}

Metrics Network::gradients(const float* x, Targets y, Index n) {
  forward(x, n, /*training=*/true);
  Metrics m = loss(y, n, /*with_grad=*/true);
  m.loss_sum += penalty() * double(n);  // at the weights the loss was measured with
  backward(x, n);
  return m;
}

const float* Network::forward(const float* x, Index n, bool training) {
  StepProfile::Scope scope(profile_, Phase::Forward);
  const ForwardPass pass{training, &dropout_rng_};
  const float* in = x;
  for (auto& layer : layers_) {
    layer->forward(in, n, pass);
    in = layer->output();
  }
  return in;
}

Metrics Network::loss(Targets y, Index n, bool with_grad) {
  StepProfile::Scope scope(profile_, Phase::Loss);
  const Index K = output_dim();
  const float* out = layers_.back()->output();
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
    case Loss::MeanSquaredError: m.loss_sum = mean_squared_error(out, y.dense, n, K, grad, scale, &m.correct); break;
  }
  return m;
}

double Network::penalty() const {
  double total = 0;
  for (const auto& layer : layers_) total += layer->penalty();
  return total;
}

void Network::backward(const float* x, Index n) {
  StepProfile::Scope scope(profile_, Phase::Backward);
  for (Index l = num_layers() - 1; l >= 0; --l) {
    const float* in = l == 0 ? x : layers_[l - 1]->output();
    layers_[l]->backward(in, delta_.data(), l == 0 ? nullptr : delta_next_.data(), n);
    std::swap(delta_, delta_next_);  // dL/d input of this layer is dL/d output of the one below
  }
}

void Network::update() {
  StepProfile::Scope scope(profile_, Phase::Optimizer);
  // On several threads the forward pass has left the weights in more than
  // one core's cache (Span::shared_params).
  const bool shared = num_threads() > 1;
  if (optimizer_->wants_tensor_spans()) {
    for (Span& s : tensor_spans_) s.shared_params = shared;
    optimizer_->step(tensor_spans_.data(), tensor_spans_.size());
  } else {
    const Span whole{params_.data(), grads_.data(), num_params(), shared};
    optimizer_->step(&whole, 1);
  }
}

// ---- epochs, prediction, evaluation

Targets Network::slice(Targets y, Index start, Index output_dim) {
  Targets s;
  if (y.labels) s.labels = y.labels + start;
  if (y.dense) s.dense = y.dense + start * output_dim;
  return s;
}

Metrics Network::train_epoch(const float* x, Targets y, Index n, Index batch_size, bool shuffle, std::uint64_t seed,
                             const double* learning_rates) {
  if (batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
  if (n < 1) throw std::invalid_argument("no training rows");
  check_trainable();
  const Index batch = std::min(batch_size, n);
  const Index steps = (n + batch - 1) / batch;
  reserve(batch);
  // Strategies may hold work back within the epoch; it is all applied
  // before the call returns, however it returns.
  struct Epoch {
    Network& net;
    explicit Epoch(Network& n) : net(n) { net.in_epoch_ = true; }
    ~Epoch() {
      net.in_epoch_ = false;
      net.settle();
    }
  } epoch(*this);
  seed_dropout(seed ^ 0x6A09E667F3BCC909ull);  // dropout masks: reproducible, apart from the order
  if (shuffle) {  // Fisher-Yates over row indices
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), Index(0));
    Rng rng(seed);
    for (Index i = n - 1; i > 0; --i) std::swap(order_[i], order_[rng.below(std::uint64_t(i) + 1)]);
  }
  auto previous = std::chrono::steady_clock::now();
  Metrics total;
  for (Index start = 0, step = 0; start < n; start += batch, ++step) {
    const Index rows = std::min(batch, n - start);
    if (learning_rates) optimizer_->learning_rate = learning_rates[step];
    if (shuffle)
      total.add(train_step(batch_x_.data(), gather(x, y, start, rows), rows));
    else
      total.add(train_step(x + start * input_dim_, slice(y, start, output_dim()), rows));
    report(total, step + 1, steps, step + 1 == steps, previous);
  }
  return total;
}

// Each mini-batch is gathered into a contiguous buffer so the matrix products see dense rows.
Targets Network::gather(const float* x, Targets y, Index start, Index rows) {
  StepProfile::Scope scope(profile_, Phase::Gather);
  const Index K = output_dim();
  auto share = [&](Index t, Index nt) {
    const Index r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    for (Index r = r0; r < r1; ++r) {
      // Rows come from anywhere in the data set: ask for a later row's
      // cache lines while this one is copied, so the misses overlap.
      if (r + kGatherPrefetchRows < r1) {
        const char* ahead = reinterpret_cast<const char*>(x + order_[start + r + kGatherPrefetchRows] * input_dim_);
        for (Index byte = 0; byte < Index(sizeof(float)) * input_dim_; byte += 64) __builtin_prefetch(ahead + byte);
      }
      const Index src = order_[start + r];
      std::memcpy(batch_x_.data() + r * input_dim_, x + src * input_dim_, sizeof(float) * input_dim_);
      if (y.labels) batch_labels_[r] = y.labels[src];
      if (y.dense) std::memcpy(batch_dense_.data() + r * K, y.dense + src * K, sizeof(float) * K);
    }
  };
  // Each row is a read from memory: two cores read about twice as fast as one.
  run_shares(rows * input_dim_ >= kParallelMinElements / 2 ? num_threads() : 1, share);
  Targets batch_y;
  if (y.labels) batch_y.labels = batch_labels_.data();
  if (y.dense) batch_y.dense = batch_dense_.data();
  return batch_y;
}

void Network::report(const Metrics& running, Index done, Index total, bool last,
                     std::chrono::steady_clock::time_point& previous) {
  if (!progress_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!last && std::chrono::duration<double>(now - previous).count() < progress_interval_) return;
  previous = now;
  settle();  // the callback may read (or write) the weights and the optimizer's state
  progress_(running, done, total);
}

void Network::predict(const float* x, Index n, float* out, Index batch_size) {
  if (batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
  const Index batch = std::min(batch_size, std::max<Index>(n, 1));
  reserve(batch);
  const Index K = output_dim();
  for (Index start = 0; start < n; start += batch) {
    const Index rows = std::min(batch, n - start);
    const float* result = forward(x + start * input_dim_, rows, /*training=*/false);
    layers_.back()->finish_logits(result, out + start * K, rows);
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
    forward(x + start * input_dim_, rows, /*training=*/false);
    total.add(loss(slice(y, start, output_dim()), rows, /*with_grad=*/false));
  }
  total.loss_sum += penalty() * double(n);  // once: the weights do not change here
  return total;
}

}  // namespace fastmlp
