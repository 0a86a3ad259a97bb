// A training step on a single row (batch 1) of a network of Dense layers.
//
// Every gradient of a single row is an outer product, dW = x^T dz, so the
// update can be applied as the gradients are formed, storing none: at
// batch 1, writing dW and reading it back cost more than the products.
//   - Plain SGD (a zero gradient leaves its weight as it is) updates each
//     weight inside the backward pass and skips the kernel rows whose input
//     is 0 (kernels/dense.hpp, dense_rank_one_update).
//   - Other rules take the gradient in pieces of kPiece values, each formed
//     in an L1-sized buffer and handed at once to Optimizer::update_piece.
// The same operations as the reference step on each value, so the same bits.
// The rows needed to form the gradients are kept: reading the network's
// gradients forms them (write_gradients), and from then on the reference
// step, which stores them, takes over (Network::gradients_observed).
//
// Applies: batch 1, Dense layers only, no kernel regularizer, a rule without
// norm clipping (which needs every gradient first).
#pragma once
#include <vector>

#include "fast/balanced_shares.hpp"
#include "layers/dense.hpp"
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

 private:
  struct Piece {
    Index layer, begin, end;  // [begin, end) of the layer's parameters
    Index start;              // values in the pieces before it
  };
  // dz of every layer for the row, kept with each layer's input row; plain
  // SGD updates the weights on the way.
  void backward(Network& network, const float* x, const GradientTransform& transform, float lr, bool plain_sgd);
  // Cuts every layer's parameters into pieces of at most kPiece values.
  void add_pieces(Index layer, Index begin, Index end);
  void update_in_pieces(Network& network, const GradientTransform& transform);
  void update_piece(Network& network, const Piece& piece, const GradientTransform& transform, bool shared);

  std::vector<Dense*> layers_;
  std::vector<Index> in_at_, dz_at_;            // each layer's rows in kept_in_, kept_dz_
  AlignedVector<float> kept_in_, kept_dz_;      // per layer: its input row, its dL/dz row
  bool first_rows_zero_known_ = false;          // the first layer took the sparse product
  bool gradients_pending_ = false;              // the last step stored no gradients
  std::vector<Piece> pieces_;
  Index piece_values_ = 0;
  BalancedShares shares_;                       // of the pieces, between the threads
};

}  // namespace fastmlp
