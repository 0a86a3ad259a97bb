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
// The early work needs nothing from the passes: under RMSprop and Adagrad,
// catching up the deferred steps of the rows that are updated (state only,
// before their update); under the other rules, the update of the zero
// pixels' rows, whose gradient is +0. A thread that runs out of its own
// work takes the other's from the far end of its lists (with deferral, only
// updates, once the other has caught its rows up).
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

bool Network::split_step_applies(const float* x) const {
  const Layer& first = layers_.front();
  // Below kParallelMinElements values one thread updates faster than two.
  return num_threads() > 1 && num_params() >= kParallelMinElements && num_layers() >= 2 &&
         first.spec.kind == LayerKind::Dense && !optimizer_->skips_zero_gradients() &&
         sparse_input_.takes_sparse_product(x, 1, first.in);
}

// The runs of set bits of `rows` (bit k: kernel row k) as pieces. From a bit
// mask, a run's end costs one count of trailing zeros rather than a
// mispredicted branch per pixel (a branch per pixel took about 2.7 us a step).
void Network::add_row_runs(const std::uint64_t* rows) {
  const Layer& first = layers_.front();
  const Index in = first.in, out = first.out;
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
    add_pieces(0, k * out, end * out);
    k = next(end, true);
  }
}

Metrics Network::split_direct_step(const float* x, Targets y) {
  last_step_direct_ = true;
  const auto [transform, lr] = optimizer_->begin_direct_step(num_params());
  const Layer& first = layers_.front();
  const Index in = first.in, out = first.out, kernel_values = in * out, words = (in + 63) / 64;
  const bool defer = zero_steps_deferrable();
  // Bit k of row_masks_[0..words): x[k] != 0. (x is sparse, so its zero
  // pixels' rows have a +0 gradient.)
  row_masks_.resize(std::size_t(2 * words));
  std::uint64_t* const lit = row_masks_.data();
  nonzero_bits(x, in, lit);
  const std::uint64_t* const second = row_owners_.second_mask(in);  // bit k: thread 1 updates row k
  row_owners_.count(lit);
  // The pieces, each thread's in one stretch:
  //   thread 0: [its zero rows] [its lit rows]
  //   thread 1: [its zero rows] [its lit rows] [first layer's bias, later layers]
  // With deferral, a thread's kernel pieces are the rows it updates (lit,
  // or zero and not deferrable), its early work catching them up.
  Index zero_end[2], lit_end0, kernel_end;
  if (defer) {
    plan_update(x, /*defer=*/true, second);
    may_defer_set_ = true;
    // Thread 0's kernel pieces first, each thread's in row order.
    piece_scratch_.clear();
    Index kept = 0, i = 0;
    for (; i < Index(pieces_.size()) && pieces_[i].layer == 0 && pieces_[i].begin < kernel_values; ++i) {
      if (bit_set(second, pieces_[i].begin / out))
        piece_scratch_.push_back(pieces_[i]);
      else
        pieces_[kept++] = pieces_[i];
    }
    std::copy(piece_scratch_.begin(), piece_scratch_.end(), pieces_.begin() + kept);
    zero_end[0] = lit_end0 = kept;
    zero_end[1] = kernel_end = i;
  } else {
    stop_deferring();
    pieces_.clear();
    piece_values_ = 0;
    std::uint64_t* const rows = lit + words;  // scratch for one class of rows
    const std::uint64_t tail = in % 64 == 0 ? ~std::uint64_t(0) : (std::uint64_t(1) << (in % 64)) - 1;
    auto add_rows = [&](bool of_second, bool lit_rows) {
      for (Index w = 0; w < words; ++w)
        rows[w] = (lit_rows ? lit[w] : ~lit[w]) & (of_second ? second[w] : ~second[w]) & (w == words - 1 ? tail : ~std::uint64_t(0));
      add_row_runs(rows);
    };
    add_rows(false, false);
    zero_end[0] = Index(pieces_.size());
    add_rows(false, true);
    lit_end0 = Index(pieces_.size());
    add_rows(true, false);
    zero_end[1] = Index(pieces_.size());
    add_rows(true, true);
    kernel_end = Index(pieces_.size());
    for (Index l = 0; l < num_layers(); ++l) add_pieces(l, l == 0 ? kernel_values : 0, layers_[l].param_count);
  }
  // Early work: catch-ups of a thread's kernel pieces (with deferral), or
  // the updates of its zero rows (without). Then its kernel pieces'
  // updates, and thread 1's the later layers'.
  TwoEndedQueue early[2] = {TwoEndedQueue(0, zero_end[0]), TwoEndedQueue(lit_end0, zero_end[1])};
  TwoEndedQueue rows[2] = {TwoEndedQueue(defer ? 0 : zero_end[0], lit_end0),
                           TwoEndedQueue(defer ? lit_end0 : zero_end[1], kernel_end)};
  TwoEndedQueue later(kernel_end, Index(pieces_.size()));
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
  Metrics metrics;
  std::exception_ptr error;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point started = Clock::now();
  Clock::time_point own_done[2] = {started, started};
  std::atomic<bool> caught_up[2] = {false, false};  // with deferral: the thread's catch-ups all done
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
      for (Index i; stage.load(std::memory_order_acquire) < PassesDone && early[0].take(true, i);) early_work(i);
      wait_for(stage, PassesDone);
      if (!error) update_scope.emplace(profile_, Phase::Optimizer);
    } else {
      for (Index i; stage.load(std::memory_order_acquire) < FirstLayerDone && early[1].take(true, i);) early_work(i);
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
      // A thread's own rows: with deferral, every catch-up before the rows' updates.
      if (defer) {
        for (Index i; early[t].take(true, i);) early_work(i);
        caught_up[t].store(true, std::memory_order_release);
      }
      for (Index i; rows[t].take(true, i);) update(i, false);
      for (Index i; early[t].take(true, i);) early_work(i);
      own_done[t] = Clock::now();
      // Then what the other thread has left, from the far ends of its
      // lists; with deferral only its updates, once it has caught up.
      const int u = 1 - t;
      if (defer)
        while (!caught_up[u].load(std::memory_order_acquire)) cpu_relax();
      else
        for (Index i; early[u].take(false, i);) early_work(i);
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
