// Network::split_direct_step: a batch-1 step with the layers split between
// two threads (network.hpp says where it applies).
//
// Why: each thread should update what its core has in cache. Thread 0 runs
// the first layer's forward product, which reads the kernel rows of the lit
// pixels, and then updates those rows; thread 1 runs the later layers'
// passes, which read their weights, and then updates them. Before, thread 0
// ran every pass and the threads then shared the update out, so the lines
// of whatever thread 1 updated had just been read by the other core.
//
//   thread 0:  first layer forward | early work          | lit rows, then early work left
//   thread 1:  early work (back)   | later layers' passes | later layers, then what thread 0 has left
//
// The early work needs nothing from the passes: under RMSprop and Adagrad,
// catching up the deferred steps of the rows the pixel lights (state only,
// before their update); under the other rules, the update of the zero
// pixels' rows, whose gradient is +0. Each queue is taken from both ends,
// thread 0 from the front, so the threads finish together.
#include <atomic>
#include <exception>
#include <optional>
#include <thread>

#include "network.hpp"
#include "parallel.hpp"

namespace fastmlp {
namespace {
// Spins until `stage` reaches `wanted`, yielding the core now and then.
void wait_for(const std::atomic<int>& stage, int wanted) {
  for (int spins = 1; stage.load(std::memory_order_acquire) < wanted; ++spins) {
    if (spins % 1024 == 0)
      std::this_thread::yield();
    else
      cpu_relax();
  }
}
}  // namespace

bool Network::split_step_applies(const float* x) const {
  const Layer& first = layers_.front();
  // Below kParallelMinElements values one thread updates faster than two.
  return num_threads() > 1 && num_params() >= kParallelMinElements && num_layers() >= 2 &&
         first.spec.kind == LayerKind::Dense && !optimizer_->skips_zero_gradients() &&
         sparse_input_.takes_sparse_product(x, 1, first.in);
}

Metrics Network::split_direct_step(const float* x, Targets y) {
  last_step_direct_ = true;
  const auto [transform, lr] = optimizer_->begin_direct_step(num_params());
  const Layer& first = layers_.front();
  const Index in = first.in, out = first.out, kernel_values = in * out;
  const bool defer = zero_steps_deferrable();
  // The pieces: [zero rows (without deferral)] [lit rows] [first layer's bias] [later layers].
  Index zero_pieces = 0;
  if (defer) {
    plan_update(x, /*defer=*/true);  // x is sparse: its zero pixels' rows have a +0 gradient
    may_defer_set_ = true;
  } else {
    stop_deferring();
    pieces_.clear();
    auto add_pieces = [&](Index l, Index begin, Index end) {
      for (Index b = begin; b < end; b += kPiece) pieces_.push_back({l, b, std::min(end, b + kPiece), 0});
    };
    auto add_rows = [&](bool zero) {
      for (Index k = 0; k < in;) {
        Index end = k;
        while (end < in && (x[end] == 0.0f) == zero) ++end;
        add_pieces(0, k * out, end * out);
        k = std::max(end, k + 1);
      }
    };
    add_rows(true);
    zero_pieces = Index(pieces_.size());
    add_rows(false);
    for (Index l = 0; l < num_layers(); ++l) add_pieces(l, l == 0 ? kernel_values : 0, layers_[l].param_count);
  }
  const Index pieces = Index(pieces_.size());
  Index later = zero_pieces;
  while (later < pieces && pieces_[later].layer == 0) ++later;
  Index lit_rows_end = zero_pieces;  // the lit rows' pieces end here
  while (lit_rows_end < later && pieces_[lit_rows_end].begin < kernel_values) ++lit_rows_end;

  // Early work: deferred rows' catch-ups (pieces [0, lit_rows_end) with
  // deferral), or the zero rows' updates (pieces [0, zero_pieces) without).
  TwoEndedQueue early = defer ? TwoEndedQueue(0, lit_rows_end) : TwoEndedQueue(0, zero_pieces);
  TwoEndedQueue first_layer(zero_pieces, later), later_layers(later, pieces);
  auto early_work = [&](Index i) {
    if (defer)
      for (Index k = pieces_[i].begin / out; k < pieces_[i].end / out; ++k) catch_up_row(k);
    else
      update_one_piece(pieces_[i], transform, /*shared=*/false, /*zero_gradient=*/true);
  };
  auto update = [&](Index i, bool shared) {
    if (defer)
      update_deferring_piece(pieces_[i], transform, shared, /*catch_up=*/false);
    else
      update_one_piece(pieces_[i], transform, shared, /*zero_gradient=*/false);
  };

  enum Stage { Started, FirstLayerDone, PassesDone };
  std::atomic<int> stage{Started};
  std::atomic<int> early_busy{0};  // threads that may still be inside an early piece
  Metrics metrics;
  std::exception_ptr error;
  // The profile's optimizer phase: from the end of the passes to the end of every thread's update.
  std::optional<StepProfile::Scope> update_scope;
#pragma omp parallel num_threads(num_threads())
  {
    // Nothing here throws once reserve() has run (the caller checked the
    // labels); an exception is still carried out of the parallel region.
    const int t = omp_get_thread_num();
    if (t == 0) {
      try {
        forward(x, 1, /*training=*/true, /*from_layer=*/0, /*to_layer=*/0);
      } catch (...) {
        error = std::current_exception();
      }
      early_busy.fetch_add(1);  // before the others can see the product done
      stage.store(FirstLayerDone, std::memory_order_release);
      // Catch-ups must all be done before the lit rows' updates; zero rows may wait.
      for (Index i; (defer || stage.load(std::memory_order_acquire) < PassesDone) && early.take(true, i);) early_work(i);
      early_busy.fetch_sub(1);
      wait_for(stage, PassesDone);
      // Sequentially consistent with the others' count and loads: once
      // this sees the passes done, no thread starts early work that it misses.
      while (early_busy.load() > 0) cpu_relax();
      if (!error) {
        update_scope.emplace(profile_, Phase::Optimizer);
        for (Index i; first_layer.take(true, i);) update(i, false);
        for (Index i; early.take(true, i);) early_work(i);
        for (Index i; later_layers.take(false, i);) update(i, true);
      }
    } else {
      // Early work from the back until thread 0's product is done (the
      // others until the passes are).
      const int until = t == 1 ? FirstLayerDone : PassesDone;
      early_busy.fetch_add(1);
      for (Index i; stage.load() < until && early.take(false, i);) early_work(i);
      early_busy.fetch_sub(1);
      wait_for(stage, until);
      if (t == 1) {
        if (!error) {
          try {
            forward(first.output.data(), 1, /*training=*/true, /*from_layer=*/1);
            metrics = loss_and_output_grad(y, 1, /*with_grad=*/true);
            backward_single_row(x, transform, lr, /*plain_sgd=*/false);
          } catch (...) {
            error = std::current_exception();
          }
        }
        stage.store(PassesDone, std::memory_order_release);
      }
      if (!error) {
        for (Index i; later_layers.take(true, i);) update(i, false);
        early_busy.fetch_add(1);
        for (Index i; early.take(false, i);) early_work(i);
        early_busy.fetch_sub(1);
        while (early_busy.load() > 0) cpu_relax();  // every catch-up before any update
        for (Index i; first_layer.take(false, i);) update(i, true);
      }
    }
  }
  update_scope.reset();
  if (error) std::rethrow_exception(error);
  optimizer_->end_direct_step();
  last_update_ranges_ = 0;
  grads_pending_ = true;
  return metrics;
}

}  // namespace fastmlp
