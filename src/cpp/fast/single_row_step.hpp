// A training step on a single row (batch 1) of a network of Dense layers.
//
// Every gradient of a single row is an outer product, dW = x^T dz, so the
// update can be applied as the gradients are formed, storing none: at
// batch 1, writing dW and reading it back cost more than the products.
//   - Plain SGD (a zero gradient leaves its weight as it is) updates each
//     weight inside the backward pass and skips the kernel rows whose input
//     is 0 (kernels/dense.hpp, dense_rank_one_update).
//   - Other rules take the gradient in pieces of at most kPiece values, each
//     formed in an L1-sized buffer and handed at once to
//     Optimizer::update_piece. Each thread updates the same stretch of the
//     buffer at every step, so that its values and their state stay in its
//     core's cache (the references' model, 266,610 parameters, holds 2-3 MB
//     of them under RMSprop or Adam: more than one core's L2, not more than
//     two): thread 0 the end of the first layer's kernel and every later
//     layer, the others the kernel's first rows. Where the first layer
//     multiplies through the row's nonzeros, the kernel rows of its zero
//     inputs have a +0 gradient whatever the passes find, so the other
//     threads update theirs while thread 0 runs the passes (which read only
//     the rows of nonzero inputs). Where thread 0's stretch ends moves, a
//     few rows a step, toward the thread that finished first. Under rules
//     whose zero-gradient steps touch only the state, most of those rows'
//     steps are held back and applied later in cache (zero_step_deferral.hpp).
// The same operations as the reference step on each value, so the same bits
// on any number of threads. The rows needed to form the gradients are kept:
// reading the network's gradients forms them (write_gradients), and from
// then on the reference step, which stores them, takes over.
//
// Applies: batch 1, Dense layers only, no kernel regularizer, a rule without
// norm clipping (which needs every gradient first).
#pragma once
#include <memory>
#include <vector>

#include "fast/zero_step_deferral.hpp"
#include "layers/dense.hpp"
#include "runtime/parallel.hpp"
#include "step_strategy.hpp"

namespace fastmlp {

class SingleRowStep final : public StepStrategy {
 public:
  // Values per piece of the update: 16 KB of gradient, formed in L1.
  static constexpr Index kPiece = 4096;

  const char* name() const override { return "single_row"; }
  void attach(Network& network) override;
  bool applies(const Network& network, Index n) const override;
  Metrics step(Network& network, const float* x, Targets y, Index n) override;
  void write_gradients(Network& network) override;
  void settle(Network& network) override { deferral_.settle(network); }

 private:
  struct Piece {
    Index layer, begin, end;  // [begin, end) of the layer's parameters
    bool rows = false;        // whole first-layer kernel rows, under deferral
    bool zero = false;        // kernel rows of zero inputs: a +0 gradient
  };
  // dz of every layer for the row, kept with each layer's input row; plain
  // SGD updates the weights on the way.
  void backward(Network& network, const float* x, const GradientTransform& transform, float lr, bool plain_sgd);
  // Lists each of `threads` threads' pieces: its kernel rows of x's zero
  // inputs in early_[t] where `overlap` (or held back, where `defer`),
  // everything else in late_[t].
  void plan(const float* x, bool overlap, bool defer, int threads);
  // Moves thread 0's first row toward the threads that finished first
  // (done[t]: seconds from the start of the update to thread t's end).
  void rebalance(const double* done, int threads);
  // Appends [begin, end) of a layer's parameters to `to` as pieces of at most kPiece values.
  static void add_pieces(std::vector<Piece>& to, Index layer, Index begin, Index end);
  // The passes and the update, on the threads that pay (see the top of the file).
  Metrics passes_and_update(Network& network, const float* x, Targets y, const GradientTransform& transform, float lr,
                            bool overlap, bool defer);
  // One piece's update, its gradient formed in L1 (or +0: zero pieces);
  // under deferral, the rows of a piece with a real gradient are caught up
  // first, and those of a zero piece vetted after.
  void update_piece(Network& network, const Piece& piece, const GradientTransform& transform, bool shared);

  std::vector<Dense*> layers_;
  std::vector<Index> in_at_, dz_at_;        // each layer's rows in kept_in_, kept_dz_
  AlignedVector<float> kept_in_, kept_dz_;  // per layer: its input row, its dL/dz row
  bool first_rows_zero_known_ = false;      // the first layer took the sparse product
  bool gradients_pending_ = false;          // the last step stored no gradients
  std::vector<std::vector<Piece>> early_, late_;  // per thread; sized on the first step at a thread count
  std::vector<double> done_seconds_;
  std::unique_ptr<TwoEndedQueue[]> queues_;  // early_ then late_, per planned thread
  int queues_size_ = 0;
  Index network_pieces_ = 0;  // pieces outside the first layer's kernel
  Index values_ = 0;          // parameters in all
  Index split_row_ = -1;
  ZeroStepDeferral deferral_;  // thread 0 updates the kernel rows from here on (-1: not placed yet)
};

}  // namespace fastmlp
