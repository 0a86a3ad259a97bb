// Network::split_direct_step: a batch-1 step with the layers split between
// two threads (network.hpp says where it applies).
//
// Why: each thread should update what its core has in cache. Thread 0 runs
// the first layer's forward product, which reads the kernel rows of the lit
// pixels; thread 1 runs the later layers' passes, which read their weights,
// and then updates those layers. The first layer's kernel rows are dealt out
// by RowOwners: thread 0 a band of the rows lit most often, thread 1 the rows
// on either side, so that a row's weights and state stay on one core from
// step to step and few rows that thread 0 has just read are written by the
// other core.
//
//   thread 0:  first layer forward | its early work       | its lit rows, its early work left | what thread 1 left
//   thread 1:  its early work      | later layers' passes | later layers, its lit rows, ...   | what thread 0 left
//
// The early work needs nothing from the passes: the update of the zero
// pixels' rows, whose gradient is +0. With deferral (RMSprop, Adagrad, Adam:
// Optimizer::defers_zero_steps), the zero rows whose step only decays the
// state are left out, and each thread first catches up the deferred steps
// of its lit rows (state only, before their update). A thread that runs out
// of its own work takes the other's from the far end of its lists (its lit
// rows once the other has caught them up).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <thread>

#include "network.hpp"
#include "parallel.hpp"
#include "sparse.hpp"

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

bool Network::split_step_applies() const {
  // Below kParallelMinElements values one thread updates faster than two.
  // Rows denser than the sparse product takes (2.2% of MNIST's images) come
  // here too: thread 0's product is then the dense one, as on one thread,
  // and their steps took 76 us against 151-176 in order (Adam).
  return num_threads() > 1 && num_params() >= kParallelMinElements && num_layers() >= 2 &&
         layers_.front().spec.kind == LayerKind::Dense && !optimizer_->skips_zero_gradients();
}

Metrics Network::split_direct_step(const float* x, Targets y) {
  last_step_direct_ = true;
  const auto [transform, lr] = optimizer_->begin_direct_step(num_params());
  const Layer& first = layers_.front();
  const Index in = first.in, out = first.out, kernel_values = in * out, words = (in + 63) / 64;
  const bool defer = zero_steps_deferrable();
  // Bit k of row_masks_[0..words): x[k] != 0. (x is sparse, so its zero
  // pixels' rows have a +0 gradient.)
  row_masks_.resize(std::size_t(3 * words));
  std::uint64_t* const lit = row_masks_.data();
  nonzero_bits(x, in, lit);
  const std::uint64_t* const second = row_owners_.second_mask(in);  // bit k: thread 1 updates row k
  row_owners_.count(lit);
  // Bit k: the row is deferred this step.
  std::uint64_t* const deferred = lit + 2 * words;
  if (defer) {
    defer_zero_rows(lit, deferred);
  } else {
    stop_deferring();
    std::fill(deferred, deferred + words, std::uint64_t(0));
  }
  // The pieces, each thread's in one stretch:
  //   thread 0: [its zero rows] [its lit rows]
  //   thread 1: [its zero rows] [its lit rows] [first layer's bias, later layers]
  // leaving out the rows deferred. With deferral, pieces hold whole rows
  // (each row is vetted after its update).
  pieces_.clear();
  piece_values_ = 0;
  std::uint64_t* const class_rows = lit + words;  // scratch for one class of rows
  // Adds thread t's zero (or lit) rows; returns the end of their pieces.
  // (Bits past the last row may be set: add_row_runs stops at it.)
  auto add_rows = [&](int t, bool lit_rows) {
    for (Index w = 0; w < words; ++w)
      class_rows[w] = (lit_rows ? lit[w] : ~lit[w] & ~deferred[w]) & (t == 1 ? second[w] : ~second[w]);
    add_row_runs(class_rows, /*whole_rows=*/defer);
    return Index(pieces_.size());
  };
  Index zero_begin[2], lit_begin[2], lit_end[2];
  for (int t = 0; t < 2; ++t) {
    zero_begin[t] = Index(pieces_.size());
    lit_begin[t] = add_rows(t, false);
    lit_end[t] = add_rows(t, true);
  }
  for (Index l = 0; l < num_layers(); ++l) add_pieces(l, l == 0 ? kernel_values : 0, layers_[l].param_count);
  // Early work, which needs nothing from the passes: the updates of a
  // thread's zero rows (gradient +0). Then its lit rows' updates, and
  // thread 1's the later layers'. With deferral, before any of its updates,
  // each thread catches up its lit rows that were deferred.
  TwoEndedQueue early[2] = {TwoEndedQueue(zero_begin[0], lit_begin[0]), TwoEndedQueue(zero_begin[1], lit_begin[1])};
  TwoEndedQueue rows[2] = {TwoEndedQueue(lit_begin[0], lit_end[0]), TwoEndedQueue(lit_begin[1], lit_end[1])};
  TwoEndedQueue later(lit_end[1], Index(pieces_.size()));
  auto early_work = [&](Index i, bool shared) {
    if (defer)
      update_deferring_piece(pieces_[i], transform, shared, /*catch_up=*/false, /*zero_gradient=*/true);
    else
      update_one_piece(pieces_[i], transform, shared, /*zero_gradient=*/true);
  };
  auto update = [&](Index i, bool shared) {
    if (defer)
      update_deferring_piece(pieces_[i], transform, shared, /*catch_up=*/false);
    else
      update_one_piece(pieces_[i], transform, shared, /*zero_gradient=*/false);
  };

  std::atomic<bool> caught_up[2] = {!defer, !defer};  // the thread's lit rows are caught up
  auto catch_up_lit_rows = [&](int t) {
    if (caught_up[t].load(std::memory_order_relaxed)) return;
    for (Index i = lit_begin[t]; i < lit_end[t]; ++i)
      for (Index k = pieces_[i].begin / out; k < pieces_[i].end / out; ++k) catch_up_row(k);
    caught_up[t].store(true, std::memory_order_release);
  };

  enum Stage { Started, FirstLayerDone, PassesDone };
  std::atomic<int> stage{Started};
  Metrics metrics;
  std::exception_ptr error;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point started = Clock::now();
  Clock::time_point own_done[2] = {started, started};
  // The profile's optimizer phase: from the end of the passes to the end of every thread's update.
  std::optional<StepProfile::Scope> update_scope;
#pragma omp parallel num_threads(2)
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
      stage.store(FirstLayerDone, std::memory_order_release);
      catch_up_lit_rows(0);
      for (Index i; stage.load(std::memory_order_acquire) < PassesDone && early[0].take(true, i);) early_work(i, false);
      wait_for(stage, PassesDone);
      if (!error) update_scope.emplace(profile_, Phase::Optimizer);
    } else {
      catch_up_lit_rows(1);
      for (Index i; stage.load(std::memory_order_acquire) < FirstLayerDone && early[1].take(true, i);) early_work(i, false);
      wait_for(stage, FirstLayerDone);
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
      // The later layers first: the passes just read their weights.
      if (!error)
        for (Index i; later.take(true, i);) update(i, false);
    }
    if (!error) {
      for (Index i; rows[t].take(true, i);) update(i, false);
      for (Index i; early[t].take(true, i);) early_work(i, false);
      own_done[t] = Clock::now();
      // Then what the other thread has left, from the far ends of its
      // lists; its lit rows once it has caught them up.
      const int u = 1 - t;
      for (Index i; early[u].take(false, i);) early_work(i, false);
      while (!caught_up[u].load(std::memory_order_acquire)) cpu_relax();
      for (Index i; rows[u].take(false, i);) update(i, true);
      for (Index i; later.take(false, i);) update(i, true);
    }
  }
  update_scope.reset();
  if (error) std::rethrow_exception(error);
  // Rows move toward the thread that finished its own work first.
  {
    const double lag = std::chrono::duration<double>(own_done[0] - own_done[1]).count();
    const double busy = std::chrono::duration<double>(std::max(own_done[0], own_done[1]) - started).count();
    // Two threads' time over the parameters, in kernel rows.
    const double row_seconds = 2 * busy * double(out) / double(num_params());
    row_owners_.rebalance(lag, row_seconds);
  }
  optimizer_->end_direct_step();
  last_update_ranges_ = 0;
  grads_pending_ = true;
  return metrics;
}

}  // namespace fastmlp
