#include "fast/single_row_step.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>

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
    values_ += dense->param_count();
    network_pieces_ += dense->param_count() / kPiece + 1;
  }
  deferral_.attach(layers_[0]->inputs(), layers_[0]->outputs());
  kept_in_.assign(ins, 0.0f);
  kept_dz_.assign(outs, 0.0f);
}

void SingleRowStep::add_pieces(std::vector<Piece>& to, Index layer, Index begin, Index end) {
  for (Index b = begin; b < end; b += kPiece) to.push_back({layer, b, std::min(end, b + kPiece)});
}

void SingleRowStep::plan(const float* x, bool overlap, bool defer, int threads) {
  const Dense& first = *layers_[0];
  const Index in = first.inputs(), out = first.outputs(), rows_per_piece = std::max<Index>(1, kPiece / out);
  if (Index(early_.size()) != threads) {
    early_.assign(std::size_t(threads), {});
    late_.assign(std::size_t(threads), {});
    for (int t = 0; t < threads; ++t) {  // a piece per kernel row at most, and the rest
      early_[t].reserve(std::size_t(in));
      late_[t].reserve(std::size_t(in + network_pieces_));
    }
  }
  for (int t = 0; t < threads; ++t) {
    early_[t].clear();
    late_[t].clear();
  }
  if (split_row_ < 0) split_row_ = threads > 1 ? in / 2 : 0;
  const Index split = threads > 1 ? split_row_ : 0;
  // Kernel rows [begin, end) as thread t's pieces: runs of whole rows of
  // one kind: nonzero inputs' rows, zero inputs' rows (a +0 gradient:
  // single_row_gradient forms x[k] dz[j] onto +0, and the sparse product
  // skips them), or zero inputs' rows held back (none listed).
  enum Kind { Nonzero, Zero, Held };
  auto kind = [&](Index k) {
    if (x[k] != 0.0f) return Nonzero;
    return defer && deferral_.may_defer(k) ? Held : Zero;
  };
  auto add_rows = [&](int t, Index begin, Index end) {
    for (Index k = begin; k < end;) {
      const Kind first_kind = kind(k);
      Index stop = k + 1;
      while (stop < end && stop - k < rows_per_piece && kind(stop) == first_kind) ++stop;
      const Piece piece{0, k * out, stop * out, defer, first_kind == Zero};
      if (first_kind == Held)
        for (Index r = k; r < stop; ++r) deferral_.defer(r);
      else
        (first_kind == Zero && overlap ? early_[t] : late_[t]).push_back(piece);
      k = stop;
    }
  };
  for (int t = 1; t < threads; ++t) add_rows(t, split * (t - 1) / (threads - 1), split * t / (threads - 1));
  add_rows(0, split, in);
  for (Index l = 0; l < Index(layers_.size()); ++l)
    add_pieces(late_[0], l, l == 0 ? in * out : 0, layers_[l]->param_count());
}

Metrics SingleRowStep::step(Network& network, const float* x, Targets y, Index) {
  Optimizer& optimizer = network.optimizer();
  const auto [transform, lr] = optimizer.begin_direct_step(network.num_params());
  Metrics m;
  if (optimizer.skips_zero_gradients()) {  // plain SGD: the update happens inside backward
    network.forward(x, 1, /*training=*/true);
    m = network.loss(y, 1, /*with_grad=*/true);  // no penalty: no regularizers here
    backward(network, x, transform, lr, /*plain_sgd=*/true);
  } else {
    // The zero inputs' rows can be updated during the passes only where the
    // forward product reads the rows of nonzero inputs alone.
    const SparseInputProducts* sparse = layers_[0]->sparse_input();
    const bool overlap = sparse && sparse->takes_sparse_product(x, 1, layers_[0]->inputs());
    const bool defer = deferral_.allowed(network, transform, lr);
    if (!defer) deferral_.settle(network);
    m = passes_and_update(network, x, y, transform, lr, overlap, defer);
  }
  optimizer.end_direct_step();
  gradients_pending_ = true;
  return m;
}

Metrics SingleRowStep::passes_and_update(Network& network, const float* x, Targets y,
                                         const GradientTransform& transform, float lr, bool overlap, bool defer) {
  const int threads = network.num_params() >= kParallelMinElements ? num_threads() : 1;
  plan(x, overlap, defer, threads);
  Metrics m;
  std::exception_ptr error;
  auto passes = [&] {
    try {
      network.forward(x, 1, /*training=*/true);
      m = network.loss(y, 1, /*with_grad=*/true);
      backward(network, x, transform, lr, /*plain_sgd=*/false);
    } catch (...) {
      error = std::current_exception();
    }
  };
  if (!overlap) passes();
  std::atomic<bool> passes_done{!overlap};
  using Clock = std::chrono::steady_clock;
  const Clock::time_point started = Clock::now();
  std::vector<double>& done = done_seconds_;
  done.assign(std::size_t(threads), 0.0);  // sized on the first step: no allocation after
  if (queues_size_ != threads) {
    queues_.reset(new TwoEndedQueue[std::size_t(2 * threads)]);
    queues_size_ = threads;
  }
  TwoEndedQueue* const early = queues_.get();
  TwoEndedQueue* const late = early + threads;
  for (int u = 0; u < threads; ++u) {
    early[u].reset(0, Index(early_[std::size_t(u)].size()));
    late[u].reset(0, Index(late_[std::size_t(u)].size()));
  }
  // The profile's optimizer phase spans the whole region, the passes that
  // thread 0 runs in it included.
  StepProfile::Scope scope(network.profile(), Phase::Optimizer);
  // Each thread updates its own pieces from the front of its lists, then
  // takes what another has left from the back: a thread slowed down (a busy
  // machine) holds up no one. OpenMP may give fewer threads than asked:
  // each thread then owns the lists of the planned threads t, t + team, ...
  // Which thread updates a value never changes its bits.
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const bool shared = team > 1;
    auto work = [&](TwoEndedQueue* queues, std::vector<std::vector<Piece>>& lists, bool own) {
      for (int u = 0; u < threads; ++u)
        if ((u % team == t) == own)
          for (Index i; queues[u].take(own, i);)
            update_piece(network, lists[std::size_t(u)][std::size_t(i)], transform, shared);
    };
    if (overlap && t == 0) {
      passes();
      passes_done.store(true, std::memory_order_release);
    }
    work(early, early_, true);
    work(early, early_, false);
    if (t != 0) wait_until_set(passes_done);  // the late pieces' gradients come from the passes
    if (!error) {
      work(late, late_, true);
      done[t] = std::chrono::duration<double>(Clock::now() - started).count();
      work(late, late_, false);
    }
  }
  if (error) std::rethrow_exception(error);
  if (threads > 1 && done[1] > 0) rebalance(done.data(), threads);
  return m;
}

void SingleRowStep::rebalance(const double* done, int threads) {
  const Index in = layers_[0]->inputs(), out = layers_[0]->outputs();
  double others = 0, busy = done[0];
  for (int t = 1; t < threads; ++t) {
    others = std::max(others, done[t]);
    busy = std::max(busy, done[t]);
  }
  // The team's time per kernel row; a quarter of the rows that would even
  // out the lag move, at most 16, so that a row seldom changes threads.
  const double row_seconds = busy * double(threads) * double(out) / double(values_);
  const double rows = row_seconds > 0 ? (done[0] - others) / row_seconds / 4 : 0;
  const Index shift = Index(std::max(-16.0, std::min(16.0, rows)));
  split_row_ = std::max<Index>(1, std::min(in - 1, split_row_ + shift));
}

void SingleRowStep::backward(Network& network, const float* x, const GradientTransform& transform, float lr,
                             bool plain_sgd) {
  StepProfile::Scope scope(network.profile(), Phase::Backward);
  const Index last = Index(layers_.size()) - 1;
  const Dense& top = *layers_[last];
  float* dz = kept_dz_.data() + dz_at_[last];
  std::copy(network.output_grad(), network.output_grad() + top.outputs(), dz);
  if (!top.emits_logits()) activation_backward(top.activation(), top.output(), dz, dz, 1, top.outputs());
  const SparseInputProducts* sparse = layers_[0]->sparse_input();
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
  alignas(64) static const float zeros[kPiece] = {};
  alignas(64) thread_local float g[kPiece];
  const Dense& layer = *layers_[piece.layer];
  const Index offset = network.param_offset(piece.layer) + piece.begin, size = piece.end - piece.begin;
  const Index out = layer.outputs(), first_row = piece.begin / out, end_row = piece.end / out;
  if (piece.rows && !piece.zero)
    for (Index k = first_row; k < end_row; ++k) deferral_.catch_up(network, k);
  if (!piece.zero)
    single_row_gradient(kept_in_.data() + in_at_[piece.layer], kept_dz_.data() + dz_at_[piece.layer], layer.inputs(),
                        layer.outputs(), piece.begin, piece.end, piece.layer == 0 && first_rows_zero_known_, g);
  network.optimizer().update_piece({network.params() + offset, piece.zero ? zeros : g, size, shared}, offset,
                                   transform);
  if (piece.rows && piece.zero)
    for (Index k = first_row; k < end_row; ++k) deferral_.vet(network, k);
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
