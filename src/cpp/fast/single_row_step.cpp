#include "fast/single_row_step.hpp"

#include <algorithm>
#include <chrono>

#include "kernels/dense.hpp"
#include "runtime/parallel.hpp"

namespace fastmlp {

bool SingleRowStep::applies(const Network& network, Index n) const {
  return n == 1 && !layers_.empty() && !network.gradients_observed() && network.optimizer().updates_piecewise();
}

void SingleRowStep::attach(Network& network) {
  for (Index l = 0; l < network.num_layers(); ++l) {
    const auto* dense = dynamic_cast<const Dense*>(&network.layer(l));
    if (!dense || dense->has_regularizer()) return;  // then it never applies
  }
  Index ins = 0, outs = 0;
  for (Index l = 0; l < network.num_layers(); ++l) {
    auto* dense = static_cast<Dense*>(&network.layer(l));
    layers_.push_back(dense);
    in_at_.push_back(ins);
    dz_at_.push_back(outs);
    ins += dense->inputs();
    outs += dense->outputs();
    add_pieces(l, 0, dense->param_count());
  }
  kept_in_.assign(ins, 0.0f);
  kept_dz_.assign(outs, 0.0f);
}

void SingleRowStep::add_pieces(Index layer, Index begin, Index end) {
  for (Index b = begin; b < end; b += kPiece) {
    const Index e = std::min(end, b + kPiece);
    pieces_.push_back({layer, b, e, piece_values_});
    piece_values_ += e - b;
  }
}

Metrics SingleRowStep::step(Network& network, const float* x, Targets y, Index) {
  network.forward(x, 1, /*training=*/true);
  const Metrics m = network.loss(y, 1, /*with_grad=*/true);  // no penalty: no regularizers here
  Optimizer& optimizer = network.optimizer();
  const auto [transform, lr] = optimizer.begin_direct_step(network.num_params());
  const bool plain_sgd = optimizer.skips_zero_gradients();
  backward(network, x, transform, lr, plain_sgd);
  if (!plain_sgd) update_in_pieces(network, transform);
  optimizer.end_direct_step();
  gradients_pending_ = true;
  return m;
}

void SingleRowStep::backward(Network& network, const float* x, const GradientTransform& transform, float lr,
                             bool plain_sgd) {
  const Index last = Index(layers_.size()) - 1;
  const Dense& top = *layers_[last];
  float* dz = kept_dz_.data() + dz_at_[last];
  std::copy(network.output_grad(), network.output_grad() + top.outputs(), dz);
  if (!top.emits_logits()) activation_backward(top.activation(), top.output(), dz, dz, 1, top.outputs());
  SparseInputProducts* sparse = layers_[0]->sparse_input();
  first_rows_zero_known_ = sparse && sparse->last_sparse_rows() > 0;
  for (Index l = last; l >= 0; --l) {
    Dense& layer = *layers_[l];
    const Index in = layer.inputs(), out = layer.outputs();
    const float* input = l == 0 ? x : layers_[l - 1]->output();
    std::copy(input, input + in, kept_in_.data() + in_at_[l]);
    dz = kept_dz_.data() + dz_at_[l];
    if (l > 0) {  // dx with the weights before their update, as the layer below's dz
      const Dense& below = *layers_[l - 1];
      float* dx = kept_dz_.data() + dz_at_[l - 1];
      gemm(Op::None, Op::Transpose, 1, in, out, dz, out, layer.kernel(), out, dx, in, /*accumulate=*/false);
      activation_backward(below.activation(), below.output(), dx, dx, 1, in);
    }
    if (plain_sgd)
      with_plain_sgd_rule(transform, lr, [&](auto rule) {
        dense_rank_one_update(input, dz, layer.kernel(), layer.bias(), in, out, rule);
      });
  }
}

void SingleRowStep::update_piece(Network& network, const Piece& piece, const GradientTransform& transform,
                                 bool shared) {
  alignas(64) thread_local float g[kPiece];
  const Dense& layer = *layers_[piece.layer];
  const Index offset = network.param_offset(piece.layer) + piece.begin, size = piece.end - piece.begin;
  single_row_gradient(kept_in_.data() + in_at_[piece.layer], kept_dz_.data() + dz_at_[piece.layer], layer.inputs(),
                      layer.outputs(), piece.begin, piece.end, piece.layer == 0 && first_rows_zero_known_, g);
  network.optimizer().update_piece({network.params() + offset, g, size, shared}, offset, transform);
}

void SingleRowStep::update_in_pieces(Network& network, const GradientTransform& transform) {
  const Index pieces = Index(pieces_.size());
  const int threads = piece_values_ >= kParallelMinElements ? int(std::min<Index>(num_threads(), pieces)) : 1;
  const bool shared = threads > 1;  // the forward pass ran on one thread, the update does not
  // The thread that ran the forward pass holds the weights in its cache: it
  // updates faster than the others, so the parts follow measured speeds.
  auto start_of = [&](Index i) { return i < pieces ? pieces_[i].start : piece_values_; };
  auto first_piece = [&](Index u) {
    const Index value = shares_.boundary(u, piece_values_);
    return Index(std::lower_bound(pieces_.begin(), pieces_.end(), value,
                                  [](const Piece& p, Index v) { return p.start < v; }) -
                 pieces_.begin());
  };
  auto share = [&](Index t, Index) {
    const auto started = std::chrono::steady_clock::now();
    const Index begin = first_piece(t), end = first_piece(t + 1);
    for (Index i = begin; i < end; ++i) update_piece(network, pieces_[i], transform, shared);
    shares_.record(t, start_of(end) - start_of(begin), BalancedShares::seconds_since(started));
  };
  shares_.begin(threads);
  run_shares(threads, share);
  shares_.end();
}

// The gradients of the last step, by the products the layers' backward
// passes use, so they have the bits a stored-gradient step would have written.
void SingleRowStep::write_gradients(Network& network) {
  if (!gradients_pending_) return;
  gradients_pending_ = false;
  for (Index l = 0; l < Index(layers_.size()); ++l) {
    Dense& layer = *layers_[l];
    const Index in = layer.inputs(), out = layer.outputs();
    const float* input = kept_in_.data() + in_at_[l];
    const float* dz = kept_dz_.data() + dz_at_[l];
    float* g = layer.kernel_grad();
    if (l == 0 && layer.sparse_input())
      layer.sparse_input()->backward(input, dz, g, 1, in, out);
    else
      dense_backward_matmul<float>(input, nullptr, dz, nullptr, g, 1, in, out, /*accumulate=*/false);
    bias_backward(dz, g + in * out, 1, out, /*accumulate=*/false);
  }
}

}  // namespace fastmlp
