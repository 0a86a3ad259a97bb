#include "network.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "batchnorm.hpp"
#include "dense.hpp"
#include "parallel.hpp"
#include "sparse.hpp"

namespace fastmlp {

// How many rows ahead the mini-batch gather prefetches.
constexpr Index kGatherPrefetchRows = 4;

Network::Network(Index input_dim, std::vector<LayerSpec> specs) : input_dim_(input_dim) {
  if (input_dim_ < 1) throw std::invalid_argument("input_dim must be >= 1");
  if (specs.empty()) throw std::invalid_argument("a network needs at least one layer");
  Index width = input_dim_, params = 0, stats = 0;
  for (const LayerSpec& spec : specs) {
    Layer layer;
    layer.spec = spec;
    layer.in = width;
    layer.param_offset = params;
    switch (spec.kind) {
      case LayerKind::Dense:
        if (spec.units < 1) throw std::invalid_argument("every Dense layer needs units >= 1");
        if (spec.l1 < 0 || spec.l2 < 0) throw std::invalid_argument("regularization factors must be >= 0");
        layer.out = spec.units;
        layer.param_count = (width + 1) * spec.units;
        has_regularizer_ = has_regularizer_ || spec.l1 > 0 || spec.l2 > 0;
        break;
      case LayerKind::BatchNorm:
        if (!(spec.momentum >= 0 && spec.momentum <= 1)) throw std::invalid_argument("BatchNormalization momentum must be in [0, 1]");
        if (!(spec.epsilon > 0)) throw std::invalid_argument("BatchNormalization epsilon must be > 0");
        layer.out = width;
        layer.param_count = 2 * width;
        layer.stats_offset = stats;
        stats += 2 * width;
        layer.mean.resize(width);
        layer.var.resize(width);
        layer.inv_std.resize(width);
        break;
      case LayerKind::Dropout:
        if (!(spec.rate >= 0 && spec.rate < 1)) throw std::invalid_argument("Dropout rate must be in [0, 1)");
        layer.out = width;
        break;
    }
    params += layer.param_count;
    width = layer.out;
    layers_.push_back(std::move(layer));
  }
  params_.assign(params, 0.0f);
  grads_.assign(params, 0.0f);
  skip_ranges_.reserve(std::size_t(input_dim_ / 2 + 2));  // alternate rows, and the rest
  stats_.assign(stats, 0.0f);
  Index ins = 0, outs = 0;
  for (const Layer& layer : layers_) {
    all_dense_ = all_dense_ && layer.spec.kind == LayerKind::Dense;
    ins += layer.in;
    outs += layer.out;
  }
  if (all_dense_) {
    pending_in_.assign(ins, 0.0f);
    pending_dy_.assign(outs, 0.0f);
  }
  Index pieces = 0;
  for (Index l = 0, in_at = 0, dy_at = 0; l < num_layers(); ++l) {
    Layer& layer = layers_[l];
    layer.pending_in_offset = in_at;
    layer.pending_dy_offset = dy_at;
    in_at += layer.in;
    dy_at += layer.out;
    pieces += (layer.param_count + kPiece - 1) / kPiece + 1;
  }
  const Layer& first = layers_.front();
  if (first.spec.kind == LayerKind::Dense) {
    deferred_steps_.assign(first.in, 0);
    row_may_defer_.assign(first.in, 0);
    row_vet_wait_.assign(first.in, 0);
    pieces += first.in;  // a piece per kernel row at most
  }
  pieces_.reserve(pieces);
  for (const Layer& layer : layers_) {
    if (layer.param_count == 0) continue;
    if (layer.spec.kind == LayerKind::Dense) {
      const Index w = layer.param_offset, b = w + layer.in * layer.out;
      tensor_spans_.push_back({params_.data() + w, grads_.data() + w, b - w});
      tensor_spans_.push_back({params_.data() + b, grads_.data() + b, layer.out});
    } else {
      const Index g = layer.param_offset, b = g + layer.out;
      tensor_spans_.push_back({params_.data() + g, grads_.data() + g, layer.out});
      tensor_spans_.push_back({params_.data() + b, grads_.data() + b, layer.out});
    }
  }
}

void Network::initialize(const std::vector<Initializer>& kernel_init, std::uint64_t seed) {
  Index dense = 0;
  for (const Layer& layer : layers_) dense += layer.spec.kind == LayerKind::Dense;
  if (Index(kernel_init.size()) != dense)
    throw std::invalid_argument("one kernel initializer per Dense layer is required");
  Rng rng(seed);
  std::size_t next = 0;
  for (Layer& layer : layers_) {
    float* p = params_.data() + layer.param_offset;
    if (layer.spec.kind == LayerKind::Dense) {
      fastmlp::initialize(kernel_init[next++], p, layer.in, layer.out, rng);
      std::fill_n(p + layer.in * layer.out, layer.out, 0.0f);
    } else if (layer.spec.kind == LayerKind::BatchNorm) {
      std::fill_n(p, layer.out, 1.0f);              // gamma
      std::fill_n(p + layer.out, layer.out, 0.0f);  // beta
      std::fill_n(stats_.data() + layer.stats_offset, layer.out, 0.0f);              // moving mean
      std::fill_n(stats_.data() + layer.stats_offset + layer.out, layer.out, 1.0f);  // moving variance
    }
  }
}

bool Network::fused_softmax_loss() const {
  const LayerSpec& last = layers_.back().spec;
  return last.kind == LayerKind::Dense && last.activation == Activation::Softmax &&
         loss_ != Loss::MeanSquaredError;
}

void Network::set_loss(Loss loss) {
  const LayerSpec& last = layers_.back().spec;
  if (loss != Loss::MeanSquaredError &&
      !(last.kind == LayerKind::Dense && last.activation == Activation::Softmax))
    throw std::invalid_argument("cross-entropy losses need a Dense softmax output layer");
  loss_ = loss;
  loss_set_ = true;
}

void Network::set_optimizer(std::shared_ptr<Optimizer> optimizer) {
  if (!optimizer) throw std::invalid_argument("optimizer must not be None");
  optimizer->bind(num_params());
  optimizer_ = std::move(optimizer);
}

void Network::reserve(Index n) {
  if (n <= capacity_) return;
  Index widest = input_dim_;
  for (Layer& layer : layers_) {
    layer.output.resize(n * layer.out);
    if (layer.spec.kind != LayerKind::Dense) layer.saved.resize(n * layer.out);
    widest = std::max(widest, layer.out);
  }
  delta_.resize(n * widest);
  delta_next_.resize(n * widest);
  batch_x_.resize(n * input_dim_);
  batch_dense_.resize(n * output_dim());
  batch_labels_.resize(n);
  capacity_ = n;
}

const float* Network::forward(const float* x, Index n, bool training, Index from_layer, Index to_layer) {
  const float* in = x;
  const Index last = num_layers() - 1, until = to_layer < 0 ? last : to_layer;
  for (Index l = from_layer; l <= until; ++l) {
    Layer& layer = layers_[l];
    float* out = layer.output.data();
    const float* p = params_.data() + layer.param_offset;
    const Index K = layer.out;
    switch (layer.spec.kind) {
      case LayerKind::Dense: {
        {
          StepProfile::Scope scope(profile_, Phase::ForwardMatmul);
          if (l == 0)
            sparse_input_.forward(in, p, out, n, layer.in, K);
          else
            dense_forward_matmul(in, p, out, n, layer.in, K);
        }
        StepProfile::Scope scope(profile_, Phase::ForwardElementwise);
        add_bias(out, p + layer.in * K, n, K);
        if (!(l == last && fused_softmax_loss())) activation_forward(layer.spec.activation, out, out, n, K);
        break;
      }
      case LayerKind::BatchNorm: {
        StepProfile::Scope scope(profile_, Phase::ForwardElementwise);
        const float eps = float(layer.spec.epsilon);
        float* moving_mean = stats_.data() + layer.stats_offset;
        float* moving_var = moving_mean + K;
        if (training) {
          batchnorm_forward_train(in, p, p + K, out, layer.saved.data(), layer.mean.data(), layer.var.data(),
                                  layer.inv_std.data(), n, K, eps);
          const float keep = float(layer.spec.momentum), take = float(1 - layer.spec.momentum);
          for (Index k = 0; k < K; ++k) {
            moving_mean[k] = moving_mean[k] * keep + layer.mean[k] * take;
            moving_var[k] = moving_var[k] * keep + layer.var[k] * take;
          }
        } else {
          batchnorm_forward_infer(in, p, p + K, moving_mean, moving_var, out, n, K, eps);
        }
        break;
      }
      case LayerKind::Dropout: {
        StepProfile::Scope scope(profile_, Phase::ForwardElementwise);
        const Index size = n * K;
        if (training && layer.spec.rate > 0) {
          // Inverted dropout: kept units are scaled by 1 / (1 - rate).
          const double rate = layer.spec.rate;
          const float scale = float(1.0 / (1.0 - rate));
          float* mask = layer.saved.data();
          for (Index i = 0; i < size; ++i) mask[i] = dropout_rng_.uniform() >= rate ? scale : 0.0f;
          for (Index i = 0; i < size; ++i) out[i] = in[i] * mask[i];
        } else {
          std::copy(in, in + size, out);
        }
        break;
      }
    }
    in = out;
  }
  return in;
}

double Network::regularization_penalty() const {
  double total = 0;
  if (!has_regularizer_) return 0;
  for (const Layer& layer : layers_) {
    if (layer.spec.kind != LayerKind::Dense || (layer.spec.l1 == 0 && layer.spec.l2 == 0)) continue;
    const float* w = params_.data() + layer.param_offset;
    double abs_sum = 0, sq_sum = 0;
    for (Index i = 0, size = layer.in * layer.out; i < size; ++i) {
      abs_sum += std::abs(double(w[i]));
      sq_sum += double(w[i]) * double(w[i]);
    }
    total += layer.spec.l1 * abs_sum + layer.spec.l2 * sq_sum;
  }
  return total;
}

Metrics Network::loss_and_output_grad(Targets y, Index n, bool with_grad) {
  StepProfile::Scope scope(profile_, Phase::Loss);
  const Index K = output_dim();
  const float* out = layers_.back().output.data();
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
      if (grad && layers_.back().spec.kind == LayerKind::Dense)
        activation_backward(layers_.back().spec.activation, out, grad, grad, n, K);
      break;
  }
  return m;
}

void Network::backward(const float* x, Index n) {
  // delta_ holds dL/dz of the last layer (pre-activation for Dense).
  for (Index l = num_layers() - 1; l >= 0; --l) {
    Layer& layer = layers_[l];
    const float* in = l == 0 ? x : layers_[l - 1].output.data();
    float* dx = l == 0 ? nullptr : delta_next_.data();
    float* p = params_.data() + layer.param_offset;
    float* g = grads_.data() + layer.param_offset;
    const Index K = layer.out;
    switch (layer.spec.kind) {
      case LayerKind::Dense: {
        {
          StepProfile::Scope scope(profile_, Phase::BackwardMatmul);
          if (l == 0)
            sparse_input_.backward(in, delta_.data(), g, n, layer.in, K);
          else
            dense_backward_matmul(in, p, delta_.data(), dx, g, n, layer.in, K, /*accumulate=*/false);
        }
        StepProfile::Scope scope(profile_, Phase::BackwardElementwise);
        bias_backward(delta_.data(), g + layer.in * K, n, K, /*accumulate=*/false);
        const float l1 = float(layer.spec.l1), two_l2 = float(2 * layer.spec.l2);
        if (l1 > 0 || two_l2 > 0) {
          if (l == 0) sparse_input_.forget_zero_rows();
          for (Index i = 0, size = layer.in * K; i < size; ++i)
            g[i] += two_l2 * p[i] + l1 * float((p[i] > 0) - (p[i] < 0));
        }
        break;
      }
      case LayerKind::BatchNorm: {
        StepProfile::Scope scope(profile_, Phase::BackwardElementwise);
        batchnorm_backward(delta_.data(), layer.saved.data(), p, layer.inv_std.data(),
                           dx ? dx : delta_.data(), g, g + K, n, K);
        break;
      }
      case LayerKind::Dropout:
        if (dx) {
          StepProfile::Scope scope(profile_, Phase::BackwardElementwise);
          if (layer.spec.rate > 0) {
            const float* mask = layer.saved.data();
            for (Index i = 0, size = n * K; i < size; ++i) dx[i] = delta_.data()[i] * mask[i];
          } else {
            std::copy(delta_.data(), delta_.data() + n * K, dx);
          }
        }
        break;
    }
    if (l > 0) {
      const Layer& below = layers_[l - 1];
      StepProfile::Scope scope(profile_, Phase::BackwardElementwise);
      if (below.spec.kind == LayerKind::Dense)
        activation_backward(below.spec.activation, below.output.data(), dx, dx, n, below.out);
      std::swap(delta_, delta_next_);
    }
  }
}

std::size_t Network::nonzero_gradient_ranges() {
  const Layer& first = layers_.front();
  const std::uint8_t* maybe_nonzero = sparse_input_.maybe_nonzero_rows();
  if (!optimizer_->skips_zero_gradients() || first.spec.kind != LayerKind::Dense || !maybe_nonzero) return 0;
  // Runs of the first layer's kernel rows that may be nonzero, then the rest
  // of the buffer (bias and later layers) in one stretch.
  skip_ranges_.clear();
  const Index out = first.out;
  for (Index k = 0; k < first.in; ++k) {
    if (!maybe_nonzero[k]) continue;
    if (!skip_ranges_.empty() && skip_ranges_.back().end == k * out)
      skip_ranges_.back().end += out;
    else
      skip_ranges_.push_back({k * out, (k + 1) * out});
  }
  const Index rest = first.in * out;
  if (!skip_ranges_.empty() && skip_ranges_.back().end == rest)
    skip_ranges_.back().end = num_params();
  else
    skip_ranges_.push_back({rest, num_params()});
  // Worth it whenever some stretch is left out: step_ranges shares the
  // ranges out between the threads as one run of values.
  Index covered = 0;
  for (const Optimizer::Range& r : skip_ranges_) covered += r.end - r.begin;
  return covered < num_params() ? skip_ranges_.size() : 0;
}

void Network::apply_optimizer() {
  StepProfile::Scope scope(profile_, Phase::Optimizer);
  last_update_ranges_ = 0;
  stop_deferring();
  // On several threads, the forward pass has left the weights in more than one core's cache.
  const bool shared = num_threads() > 1;
  if (optimizer_->wants_tensor_spans()) {
    for (Span& s : tensor_spans_) s.shared_params = shared;
    optimizer_->step(tensor_spans_.data(), tensor_spans_.size());
  } else if ((last_update_ranges_ = nonzero_gradient_ranges()) > 0) {
    optimizer_->step_ranges(params_.data(), grads_.data(), num_params(), skip_ranges_.data(), last_update_ranges_);
  } else {
    const Span whole{params_.data(), grads_.data(), num_params(), shared};
    optimizer_->step(&whole, 1);
  }
}

Metrics Network::train_step(const float* x, Targets y, Index n) {
  if (!loss_set_) throw std::logic_error("set a loss before training");
  if (!optimizer_) throw std::logic_error("set an optimizer before training");
  if (n < 1) throw std::invalid_argument("a batch needs at least one row");
  reserve(n);
  last_step_split_ = direct_step_applies(n) && split_step_applies();
  if (last_step_split_) return split_direct_step(x, y);
  forward(x, n, /*training=*/true);
  Metrics m = loss_and_output_grad(y, n, /*with_grad=*/true);
  m.loss_sum += regularization_penalty() * double(n);  // at the weights the loss was measured with
  last_step_direct_ = direct_step_applies(n);
  if (last_step_direct_) {
    backward_direct(x);
  } else {
    grads_pending_ = false;  // backward writes every gradient (leaving only rows it knows are zero)
    backward(x, n);
    apply_optimizer();
  }
  return m;
}

bool Network::direct_step_applies(Index n) const {
  return n == 1 && all_dense_ && !has_regularizer_ && !grads_read_ && optimizer_->updates_piecewise();
}

void Network::backward_direct(const float* x) {
  const auto [transform, lr] = optimizer_->begin_direct_step(num_params());
  const bool plain_sgd = optimizer_->skips_zero_gradients();
  backward_single_row(x, transform, lr, plain_sgd);
  if (!plain_sgd) {
    StepProfile::Scope scope(profile_, Phase::Optimizer);
    // Zero pixels give +0 rows only where backward would have taken the sparse product.
    const bool zero_rows_known = sparse_input_.last_sparse_rows() > 0;
    const bool defer = zero_rows_known && zero_steps_deferrable();
    if (!defer) stop_deferring();
    plan_update(zero_rows_known ? pending_in_.data() : nullptr, defer);
    update_in_pieces(transform, defer);
  } else {
    stop_deferring();
  }
  optimizer_->end_direct_step();
  last_update_ranges_ = 0;
  grads_pending_ = true;
}

void Network::backward_single_row(const float* x, const GradientTransform& transform, float lr, bool plain_sgd) {
  for (Index l = num_layers() - 1; l >= 0; --l) {
    Layer& layer = layers_[l];
    const Index in = layer.in, K = layer.out;
    const float* input = l == 0 ? x : layers_[l - 1].output.data();
    float* p = params_.data() + layer.param_offset;
    std::copy(input, input + in, pending_in_.data() + layer.pending_in_offset);
    std::copy(delta_.data(), delta_.data() + K, pending_dy_.data() + layer.pending_dy_offset);
    if (l > 0) {  // dx with the weights before their update
      StepProfile::Scope scope(profile_, Phase::BackwardMatmul);
      gemm(Op::None, Op::Transpose, 1, in, K, delta_.data(), K, p, K, delta_next_.data(), in, /*accumulate=*/false);
    }
    if (plain_sgd) {
      StepProfile::Scope scope(profile_, Phase::Optimizer);
      with_plain_sgd_rule(transform, lr, [&](auto rule) {
        dense_rank_one_update(input, delta_.data(), p, p + in * K, in, K, rule);
      });
    }
    if (l > 0) {
      const Layer& below = layers_[l - 1];
      StepProfile::Scope scope(profile_, Phase::BackwardElementwise);
      activation_backward(below.spec.activation, below.output.data(), delta_next_.data(), delta_next_.data(), 1, in);
      std::swap(delta_, delta_next_);
    }
  }
}

bool Network::zero_steps_deferrable() const {
  const Layer& first = layers_.front();
  return deferring_ && defer_allowed_ && first.spec.kind == LayerKind::Dense && first.out <= kPiece &&
         !has_regularizer_ && optimizer_->defers_zero_steps();
}

void Network::add_pieces(Index layer, Index begin, Index end) {
  for (Index b = begin; b < end; b += kPiece) {
    const Index e = std::min(end, b + kPiece);
    pieces_.push_back({layer, b, e, piece_values_});
    piece_values_ += e - b;
  }
}

void Network::plan_update(const float* single_row, bool defer) {
  pieces_.clear();
  piece_values_ = 0;
  const Layer& first = layers_.front();
  Index from = 0;
  if (defer) {
    // The kernel in runs of whole rows, leaving out the rows this step
    // defers (single_row[k] = 0); a deferred row updated now catches up
    // first (update_in_pieces).
    const Index words = (first.in + 63) / 64;
    row_masks_.resize(std::size_t(2 * words));
    std::uint64_t* const lit = row_masks_.data();
    std::uint64_t* const updated = lit + words;
    nonzero_bits(single_row, first.in, lit);
    defer_zero_rows(lit, updated);
    for (Index w = 0; w < words; ++w) updated[w] = ~updated[w];
    add_row_runs(updated, /*whole_rows=*/true);
    from = first.in * first.out;
  }
  for (Index l = 0; l < num_layers(); ++l) add_pieces(l, l == 0 ? from : 0, layers_[l].param_count);
}

// The runs of set bits of `rows` (bit k: kernel row k) as pieces, each of
// whole rows where `whole_rows`. From a bit mask, a run's end costs one
// count of trailing zeros rather than a mispredicted branch per pixel (a
// branch per pixel took about 2.7 us a step).
void Network::add_row_runs(const std::uint64_t* rows, bool whole_rows) {
  const Layer& first = layers_.front();
  const Index in = first.in, out = first.out, rows_per_piece = std::max<Index>(1, kPiece / out);
  // The first k >= from whose bit is `value` (or `in`).
  auto next = [&](Index from, bool value) {
    for (Index k = from; k < in;) {
      std::uint64_t word = rows[k >> 6] >> (k & 63);
      if (!value) word = ~word;
      if (k % 64 != 0) word &= ~std::uint64_t(0) >> (k & 63);  // only the bits from k on
      if (word != 0) return std::min(in, k + Index(__builtin_ctzll(word)));
      k = (k | 63) + 1;
    }
    return in;
  };
  for (Index k = next(0, true); k < in;) {
    const Index end = next(k, false);
    for (Index r = k; r < end; r += whole_rows ? rows_per_piece : end - k)
      add_pieces(0, r * out, std::min(end, whole_rows ? r + rows_per_piece : end) * out);
    k = next(end, true);
  }
}

// With deferral: sets bit k of `deferred` for the kernel rows this step
// defers (x[k] = 0, and the row is deferred already or passed the check
// after its last update) and counts their steps; a lit row that was
// deferred is caught up before its update. (A deferred row
// keeps row_may_defer_ set: it is only cleared after an update, which
// catches the row up first, or by stop_deferring, which catches up all.)
void Network::defer_zero_rows(const std::uint64_t* lit, std::uint64_t* deferred) {
  const Index in = layers_.front().in, words = (in + 63) / 64;
  nonzero_bits(row_may_defer_.data(), in, deferred);
  Index newly = 0, caught = 0, steps = 0;
  for (Index w = 0; w < words; ++w) {
    for (std::uint64_t bits = lit[w] & deferred[w]; bits != 0; bits &= bits - 1)
      caught += deferred_steps_[64 * w + Index(__builtin_ctzll(bits))] > 0;
    deferred[w] &= ~lit[w];
    steps += __builtin_popcountll(deferred[w]);
    for (std::uint64_t bits = deferred[w]; bits != 0; bits &= bits - 1)
      newly += deferred_steps_[64 * w + Index(__builtin_ctzll(bits))]++ == 0;
  }
  rows_deferred_ += newly - caught;
  deferred_row_steps_ += steps;
  may_defer_set_ = true;
}

void Network::update_one_piece(const Piece& piece, const GradientTransform& transform, bool shared,
                               bool zero_gradient) {
  alignas(64) static const float zeros[kPiece] = {};
  alignas(64) thread_local float g[kPiece];
  const Layer& layer = layers_[piece.layer];
  const Index offset = layer.param_offset + piece.begin, size = piece.end - piece.begin;
  if (!zero_gradient)
    single_row_gradient(pending_in_.data() + layer.pending_in_offset, pending_dy_.data() + layer.pending_dy_offset,
                        layer.in, layer.out, piece.begin, piece.end,
                        piece.layer == 0 && sparse_input_.last_sparse_rows() > 0, g);
  optimizer_->update_piece({params_.data() + offset, zero_gradient ? zeros : g, size, shared}, offset, transform);
}

void Network::update_in_pieces(const GradientTransform& transform, bool defer) {
  const Layer& first = layers_.front();
  const Index pieces = Index(pieces_.size());
  const int threads = piece_values_ >= kParallelMinElements ? int(std::min<Index>(num_threads(), pieces)) : 1;
  const bool shared = threads > 1;  // the forward pass ran on one thread, the update does not
  if (defer) may_defer_set_ = true;
  // The thread that ran the forward pass holds the weights in its cache: it
  // updates faster than the others, so the parts follow measured speeds.
  // Where piece i starts among the values (i = pieces: the end).
  auto start_of = [&](Index i) { return i < pieces ? pieces_[i].start : piece_values_; };
  auto share = [&](Index t, Index) {
    const auto started = std::chrono::steady_clock::now();
    // The pieces that start in this thread's part of the values.
    auto first_piece = [&](Index u) {
      const Index value = update_shares_.boundary(u, piece_values_);
      return Index(std::lower_bound(pieces_.begin(), pieces_.end(), value,
                                    [](const Piece& p, Index v) { return p.start < v; }) -
                   pieces_.begin());
    };
    const Index begin = first_piece(t), last = first_piece(t + 1);
    for (Index i = begin; i < last; ++i) {
      if (defer)
        update_deferring_piece(pieces_[i], transform, shared, /*catch_up=*/true);
      else
        update_one_piece(pieces_[i], transform, shared, /*zero_gradient=*/false);
    }
    update_shares_.record(t, start_of(last) - start_of(begin), BalancedShares::seconds_since(started));
  };
  update_shares_.begin(threads);
  run_shares(threads, share);
  update_shares_.end();
}

void Network::update_deferring_piece(const Piece& piece, const GradientTransform& transform, bool shared,
                                     bool catch_up, bool zero_gradient) {
  const Layer& first = layers_.front();
  const bool kernel_rows = piece.layer == 0 && piece.begin < first.in * first.out;
  const Index row0 = piece.begin / first.out, row1 = piece.end / first.out;  // whole rows when kernel_rows
  if (kernel_rows && catch_up)
    for (Index k = row0; k < row1; ++k) catch_up_row(k);
  update_one_piece(piece, transform, shared, zero_gradient);
  if (kernel_rows) {
    for (Index k = row0; k < row1; ++k) {
      // A row the check turned down waits kVetBackoff updates before the
      // next: under Adam, most rows need hundreds of zero steps to settle,
      // and checking each one at each update cost 10 us a step on two threads.
      row_may_defer_[k] = 0;
      if (row_vet_wait_[k] > 0) {
        --row_vet_wait_[k];
        continue;
      }
      const Index at = first.param_offset + k * first.out;
      const bool keeps = optimizer_->zero_steps_keep_params(params_.data() + at, at, first.out);
      row_may_defer_[k] = keeps;
      row_vet_wait_[k] = keeps ? 0 : kVetBackoff;
    }
  }
}

void Network::catch_up_deferred_rows() {
  if (rows_deferred_ == 0) return;
  const Index in = layers_.front().in, out = layers_.front().out;
  auto share = [&](Index t, Index nt) {
    for (Index k = in * t / nt, end = in * (t + 1) / nt; k < end; ++k) catch_up_row(k);
  };
  run_shares(rows_deferred_ * out >= kParallelMinElements ? num_threads() : 1, share);
  rows_deferred_ = 0;
}

void Network::catch_up_row(Index k) {
  if (deferred_steps_[k] == 0) return;
  const Layer& first = layers_.front();
  optimizer_->catch_up_zero_steps(first.param_offset + k * first.out, first.out, deferred_steps_[k]);
  deferred_steps_[k] = 0;
}

void Network::stop_deferring() {
  catch_up_deferred_rows();
  if (may_defer_set_) {
    std::fill(row_may_defer_.begin(), row_may_defer_.end(), std::uint8_t(0));
    std::fill(row_vet_wait_.begin(), row_vet_wait_.end(), std::uint8_t(0));
  }
  may_defer_set_ = false;
}

// The gradients of the last direct step, by the products backward() uses,
// so they have the bits a stored-gradient step would have written.
void Network::materialize_grads() {
  if (!grads_pending_) return;
  grads_pending_ = false;
  for (Index l = 0; l < num_layers(); ++l) {
    const Layer& layer = layers_[l];
    const Index in = layer.in, K = layer.out;
    const float* input = pending_in_.data() + layer.pending_in_offset;
    const float* dy = pending_dy_.data() + layer.pending_dy_offset;
    float* g = grads_.data() + layer.param_offset;
    if (l == 0)
      sparse_input_.backward(input, dy, g, 1, in, K);
    else
      dense_backward_matmul<float>(input, nullptr, dy, nullptr, g, 1, in, K, /*accumulate=*/false);
    bias_backward(dy, g + in * K, 1, K, /*accumulate=*/false);
  }
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
  const Index steps = (n + batch - 1) / batch;
  reserve(batch);
  // Zero-gradient steps may be deferred until this call returns (or
  // reports), whichever way it returns; rows are vetted afresh, since the
  // caller may have written the weights or the state since the last call.
  // Adam's deferral also needs a bound on the learning rates to come.
  struct Deferring {
    Network& net;
    Deferring(Network& n, const double* learning_rates, Index steps) : net(n) {
      net.stop_deferring();
      net.deferred_row_steps_ = 0;
      net.deferring_ = true;
      double bound = 0;
      for (Index i = 0; learning_rates && i < steps; ++i) bound = std::max(bound, std::abs(learning_rates[i]));
      net.optimizer_->deferral_learning_rate_bound = bound;  // a NaN step defers nothing (defers_zero_steps)
    }
    ~Deferring() {
      net.stop_deferring();
      net.deferring_ = false;
      net.optimizer_->deferral_learning_rate_bound = 0;
    }
  } deferring(*this, learning_rates, steps);
  seed_dropout(seed ^ 0x6A09E667F3BCC909ull);  // dropout masks: reproducible, apart from the order
  auto previous = std::chrono::steady_clock::now();
  Metrics total;
  if (!shuffle) {
    for (Index start = 0, step = 0; start < n; start += batch, ++step) {
      const Index rows = std::min(batch, n - start);
      if (learning_rates) optimizer_->learning_rate = learning_rates[step];
      total.add(train_step(x + start * input_dim_, slice(y, start, output_dim()), rows));
      report(total, step + 1, steps, step + 1 == steps, previous);
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
    {
      StepProfile::Scope scope(profile_, Phase::Gather);
      auto gather = [&](Index t, Index nt) {
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
      // Each row is a read from memory: the copy runs at one core's memory
      // rate, and two cores read about twice as fast (measured, 2 threads:
      // SGD at batch 32 191 -> 186 us a step, Adam at batch 128 647 -> 626).
      run_shares(rows * input_dim_ >= kParallelMinElements / 2 ? num_threads() : 1, gather);
    }
    if (y.labels) batch_y.labels = batch_labels_.data();
    if (y.dense) batch_y.dense = batch_dense_.data();
    total.add(train_step(batch_x_.data(), batch_y, rows));
    report(total, step + 1, steps, step + 1 == steps, previous);
  }
  return total;
}

void Network::report(const Metrics& running, Index done, Index total, bool last,
                     std::chrono::steady_clock::time_point& previous) {
  if (!progress_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!last && std::chrono::duration<double>(now - previous).count() < progress_interval_) return;
  previous = now;
  stop_deferring();  // the callback may read (or write) the weights and the optimizer's state
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
    forward(x + start * input_dim_, rows, /*training=*/false);
    total.add(loss_and_output_grad(slice(y, start, output_dim()), rows, /*with_grad=*/false));
  }
  total.loss_sum += regularization_penalty() * double(n);  // once: the weights do not change here
  return total;
}

}  // namespace fastmlp
