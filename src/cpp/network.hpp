// A stack of layers trained as one unit.
//
// All trainable parameters live in one contiguous float32 buffer, all
// gradients in a second one of the same layout: a Dense layer holds W
// (in x out, row-major) then b (out); a BatchNormalization layer gamma then
// beta. Batch normalization's moving statistics are not trained; they live in
// a third buffer. Activations and scratch are sized for the largest batch
// seen and reused, so a steady-state training step allocates nothing.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "activations.hpp"
#include "aligned.hpp"
#include "balanced_shares.hpp"
#include "initializers.hpp"
#include "losses.hpp"
#include "matrix.hpp"
#include "optim/optimizer.hpp"
#include "rng.hpp"
#include "row_owners.hpp"
#include "sparse_input.hpp"
#include "step_profile.hpp"

namespace fastmlp {

// Values per piece of an update in pieces: 16 KB of gradient, formed in L1
// and consumed there at once on direct steps.
constexpr Index kPiece = 4096;

enum class LayerKind { Dense, BatchNorm, Dropout };

struct LayerSpec {
  LayerKind kind = LayerKind::Dense;
  Index units = 0;                               // Dense: output width
  Activation activation = Activation::Linear;    // Dense
  double l1 = 0, l2 = 0;                         // Dense: kernel regularizer
  double momentum = 0.99, epsilon = 1e-3;        // BatchNorm (Keras's defaults)
  double rate = 0;                               // Dropout: fraction dropped, in [0, 1)
};

// Training targets for n rows: integer class labels (n) or dense targets
// (n x output_dim). Exactly one pointer is set.
struct Targets {
  const std::int32_t* labels = nullptr;
  const float* dense = nullptr;
};

// Summed over the rows seen: divide by `count` for means.
struct Metrics {
  double loss_sum = 0;
  std::int64_t correct = 0;
  std::int64_t count = 0;
  void add(const Metrics& other) {
    loss_sum += other.loss_sum;
    correct += other.correct;
    count += other.count;
  }
};

class Network {
 public:
  Network(Index input_dim, std::vector<LayerSpec> layers);

  Index input_dim() const { return input_dim_; }
  Index output_dim() const { return layers_.back().out; }
  Index num_layers() const { return Index(layers_.size()); }
  const LayerSpec& layer_spec(Index l) const { return layers_[l].spec; }
  Index layer_inputs(Index l) const { return layers_[l].in; }
  Index layer_outputs(Index l) const { return layers_[l].out; }
  // Offsets into params()/grads(): Dense W then b, BatchNorm gamma then beta.
  Index param_offset(Index l) const { return layers_[l].param_offset; }
  Index param_count(Index l) const { return layers_[l].param_count; }
  // BatchNorm: offset of moving_mean (then moving_variance) in moving_stats().
  Index stats_offset(Index l) const { return layers_[l].stats_offset; }

  Index num_params() const { return Index(params_.size()); }
  float* params() { return params_.data(); }
  // Gradients of the last step. Reading them also makes every later step
  // store its gradients, so views taken now stay current (see
  // direct_step_applies).
  float* grads() {
    grads_read_ = true;
    materialize_grads();
    return grads_.data();
  }
  Index num_stats() const { return Index(stats_.size()); }
  float* moving_stats() { return stats_.data(); }

  // Dense kernels from `kernel_init` (one per Dense layer, in order), biases
  // zero; BatchNorm gamma 1, beta 0, moving mean 0, moving variance 1.
  void initialize(const std::vector<Initializer>& kernel_init, std::uint64_t seed);

  void set_loss(Loss loss);
  Loss loss() const { return loss_; }
  void set_optimizer(std::shared_ptr<Optimizer> optimizer);
  Optimizer* optimizer() const { return optimizer_.get(); }
  // Seeds dropout's masks for the following train_step calls.
  void seed_dropout(std::uint64_t seed) { dropout_rng_ = Rng(seed); }

  // Forward, loss, backward and one optimizer update on a batch of n rows.
  // Returns the batch's metrics measured before the update (as Keras reports).
  Metrics train_step(const float* x, Targets y, Index n);

  // One pass over n rows in mini-batches (the last one may be smaller),
  // visiting rows in a random order drawn from `seed` when `shuffle` is set.
  // A non-null `learning_rates` gives the learning rate of each of the
  // epoch's ceil(n / batch_size) steps (a schedule, evaluated by the caller).
  Metrics train_epoch(const float* x, Targets y, Index n, Index batch_size, bool shuffle,
                      std::uint64_t seed, const double* learning_rates = nullptr);

  // Outputs (n x output_dim) after the final activation, in inference mode.
  void predict(const float* x, Index n, float* out, Index batch_size);

  Metrics evaluate(const float* x, Targets y, Index n, Index batch_size);

  // Called from train_epoch at most every `interval_seconds` (and after the
  // last step) with the running metrics, the steps done and the steps in all.
  using Progress = std::function<void(const Metrics&, Index, Index)>;
  void set_progress(Progress progress, double interval_seconds) {
    progress_ = std::move(progress);
    progress_interval_ = interval_seconds;
  }

  // Largest batch the workspace currently holds.
  Index capacity() const { return capacity_; }

  // Per-phase timing of the following steps (see step_profile.hpp).
  StepProfile& profile() { return profile_; }

  // The first layer's products through the input's nonzeros (sparse_input.hpp).
  SparseInputProducts& sparse_input() { return sparse_input_; }
  // Stretches of the buffer the last update visited; 0 when it visited all.
  std::size_t last_update_ranges() const { return last_update_ranges_; }
  // Whether the last train_step applied its update as it formed the gradients,
  // storing none (direct_step_applies).
  bool last_step_direct() const { return last_step_direct_; }
  // Whether that direct step split the layers between two threads (split_direct_step).
  bool last_step_split() const { return last_step_split_; }

  // Inside train_epoch, on direct steps (batch 1) under rules where a zero
  // gradient only decays the state (Optimizer::defers_zero_steps), the first
  // layer's kernel rows whose gradient is +0 (the pixel is 0) and whose
  // values passed Optimizer::zero_steps_keep_params after their last update
  // are left out of the update and their steps counted; a row's count is applied, in order,
  // before the row is next updated and before train_epoch reports or returns,
  // so nothing outside sees state that lags. The same bits either way.
  void set_defer_zero_steps(bool on) { defer_allowed_ = on; }
  bool defer_zero_steps() const { return defer_allowed_; }
  // Row steps the last train_epoch deferred (0 when it deferred none).
  std::int64_t deferred_row_steps() const { return deferred_row_steps_; }

 private:
  struct Layer {
    LayerSpec spec;
    Index in = 0, out = 0;
    Index param_offset = 0, param_count = 0, stats_offset = 0;
    Index pending_in_offset = 0, pending_dy_offset = 0;  // its rows in pending_in_, pending_dy_
    AlignedVector<float> output;  // capacity x out
    AlignedVector<float> saved;   // BatchNorm: x^; Dropout: the mask (scaled)
    AlignedVector<float> mean, var, inv_std;  // BatchNorm batch statistics (out)
  };

  // Softmax output with a cross-entropy loss: the loss takes logits, stably.
  bool fused_softmax_loss() const;
  void reserve(Index n);
  // Runs the layers on n rows; the last buffer holds logits when the loss is fused.
  // From layer from_layer (x then being the layer before's output) to layer
  // to_layer (-1: the last).
  const float* forward(const float* x, Index n, bool training, Index from_layer = 0, Index to_layer = -1);
  // Data loss and gradient w.r.t. the last layer's pre-activation, written to delta_.
  Metrics loss_and_output_grad(Targets y, Index n, bool with_grad);
  // Sum of the kernel regularizers' penalties (Keras adds it to the reported loss).
  double regularization_penalty() const;
  void backward(const float* x, Index n);
  void apply_optimizer();
  // A single row through Dense layers: every gradient is an outer product,
  // so the update can be applied as the gradients are formed, storing none.
  // At batch 1 storing dW, then reading it back, cost more than the products.
  // Plain SGD updates value by value inside backward and skips the rows of
  // zero inputs (dense_rank_one_update); other optimizers take the gradients
  // in L1-sized pieces once backward is done (update_in_pieces). Only
  // Dense layers without regularizers, optimizers without norm clipping, and
  // only while nobody has read the gradients; the rows needed to compute them
  // are kept and the gradients are formed on demand.
  bool direct_step_applies(Index n) const;
  void backward_direct(const float* x);
  // dx through the layers for a single row, keeping each layer's input row
  // and dL/dz row (pending_in_, pending_dy_); plain SGD also updates there.
  void backward_single_row(const float* x, const GradientTransform& transform, float lr, bool plain_sgd);
  // A direct step with the layers split between two threads: thread 0 runs
  // the first layer's forward product, thread 1 the later layers' forward
  // and backward passes and then their update; the first layer's kernel rows
  // are dealt out between the two by row_owners_, so that each row's weights
  // and state stay in one core's cache from step to step. Meanwhile each
  // thread does its work that needs no gradient: its zero pixels' rows
  // (gradient +0) that are not deferred, and the catch-ups of its deferred
  // rows that are lit this step. Each value gets the update of the
  // one-thread step, so the same bits. Where: several threads, at least
  // kParallelMinElements parameters, two layers or more, rules other than
  // plain SGD (split_step.cpp).
  bool split_step_applies() const;
  Metrics split_direct_step(const float* x, Targets y);
  RowOwners row_owners_;                 // which thread updates each kernel row
  std::vector<std::uint64_t> row_masks_;  // bit masks over the kernel rows, per step
  // A direct step's update (other than plain SGD's): pieces of at most
  // kPiece values within one layer, their gradient formed in L1 and handed
  // to Optimizer::update_piece, the pieces shared out between the threads.
  // plan_update lists them, leaving out the first layer's kernel rows it
  // defers (x[k] = 0, so their gradient is +0); update_in_pieces catches a
  // deferred row up before updating it and vets each kernel row it updates.
  // At batch 32 and above the update stays one pass over the buffer: there
  // the zero rows are fewer and scattered, and pieces of them ran slower
  // (RMSprop, 2 threads: 74-82 us a step against 59-64).
  bool zero_steps_deferrable() const;
  // With `defer`, single_row is the step's input row.
  void plan_update(const float* single_row, bool defer);
  // Appends the first layer's kernel rows whose bit is set, as pieces.
  void add_row_runs(const std::uint64_t* rows, bool whole_rows);
  // The rows a step with input row lit (bit k: x[k] != 0) defers, as a bit mask.
  void defer_zero_rows(const std::uint64_t* lit, std::uint64_t* deferred);
  void update_in_pieces(const GradientTransform& transform, bool defer);
  // Applies first-layer kernel row k's deferred steps (from one thread per row).
  void catch_up_row(Index k);
  // Applies every deferred step; stop_deferring also forgets which rows may be deferred.
  void catch_up_deferred_rows();
  void stop_deferring();
  void materialize_grads();
  // Fills skip_ranges_ with the stretches of grads_ that may be nonzero, when
  // the optimizer can skip the rest and that pays; returns how many (0:
  // update everything).
  std::size_t nonzero_gradient_ranges();
  static Targets slice(Targets y, Index start, Index output_dim);

  Index input_dim_;
  std::vector<Layer> layers_;
  AlignedVector<float> params_, grads_, stats_;
  Loss loss_ = Loss::SparseCategoricalCrossentropy;
  bool loss_set_ = false;
  bool has_regularizer_ = false;
  std::shared_ptr<Optimizer> optimizer_;
  Rng dropout_rng_{0};
  StepProfile profile_;
  SparseInputProducts sparse_input_;

  Index capacity_ = 0;
  AlignedVector<float> delta_, delta_next_;    // gradients flowing backward
  AlignedVector<float> batch_x_, batch_dense_;  // gathered mini-batch
  std::vector<std::int32_t> batch_labels_;
  std::vector<std::int64_t> order_;  // row order of the current epoch
  std::vector<Span> tensor_spans_;   // one per parameter tensor, for per-tensor clipping
  std::vector<Optimizer::Range> skip_ranges_;  // reserved for the most a step can need
  std::size_t last_update_ranges_ = 0;
  bool all_dense_ = true;
  bool last_step_direct_ = false;
  bool last_step_split_ = false;
  bool grads_read_ = false;
  bool grads_pending_ = false;                   // grads_ lags behind a direct step
  AlignedVector<float> pending_in_, pending_dy_;  // per Dense layer: its input row, its dL/dz row
  struct Piece {
    Index layer, begin, end;  // [begin, end) of the layer's parameters
    Index start;              // values in the pieces before it
  };
  std::vector<Piece> pieces_;  // reserved for the most a step can need
  // Appends [begin, end) of a layer's parameters as pieces of at most kPiece values.
  void add_pieces(Index layer, Index begin, Index end);
  // One piece's update, its gradient formed in an L1 buffer, or +0 where
  // `zero_gradient` (kernel rows of zero inputs: nothing to form).
  void update_one_piece(const Piece& piece, const GradientTransform& transform, bool shared, bool zero_gradient);
  // update_in_pieces's work on one piece with deferral: its deferred rows
  // caught up first (unless catch_up is false: done already), and its
  // kernel rows vetted after (Optimizer::zero_steps_keep_params).
  void update_deferring_piece(const Piece& piece, const GradientTransform& transform, bool shared, bool catch_up,
                              bool zero_gradient = false);
  BalancedShares update_shares_;  // of the pieces, between the threads
  Index piece_values_ = 0;
  // Per first-layer kernel row: the steps deferred, and whether its values
  // passed Optimizer::zero_steps_keep_params after its last update.
  std::vector<std::int64_t> deferred_steps_;
  std::vector<std::uint8_t> row_may_defer_;
  // Per kernel row: updates left before the check runs again (update_deferring_piece).
  std::vector<std::uint8_t> row_vet_wait_;
  static constexpr std::uint8_t kVetBackoff = 32;
  Index rows_deferred_ = 0;
  bool deferring_ = false;      // inside train_epoch
  bool defer_allowed_ = true;   // set_defer_zero_steps
  bool may_defer_set_ = false;  // some row_may_defer_ is 1
  std::int64_t deferred_row_steps_ = 0;
  Progress progress_;
  double progress_interval_ = 0.1;
  // Reports progress if the interval has passed (or `last`).
  void report(const Metrics& running, Index done, Index total, bool last,
              std::chrono::steady_clock::time_point& previous);
};

}  // namespace fastmlp
