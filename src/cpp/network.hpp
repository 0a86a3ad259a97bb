// A stack of layers trained as one unit.
//
// All trainable parameters live in one contiguous float32 buffer, their
// gradients in a second one of the same layout, and state that is not
// trained (BatchNormalization's moving statistics) in a third; each layer
// sees its slice of each (Layer::attach). Activations and scratch are sized
// for the largest batch seen and reused, so a steady-state training step
// allocates nothing.
//
// A training step is the reference step below unless a step strategy
// (fast/step_strategy.hpp) that gives the same result faster applies to it.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kernels/losses.hpp"
#include "layers/layer.hpp"
#include "optim/optimizer.hpp"
#include "runtime/aligned.hpp"
#include "runtime/rng.hpp"
#include "testing/step_profile.hpp"

namespace fastmlp {

class StepStrategy;

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
  // Each layer's inputs() must equal the outputs() of the one before (the first: input_dim).
  Network(Index input_dim, std::vector<std::unique_ptr<Layer>> layers);
  ~Network();

  Index input_dim() const { return input_dim_; }
  Index output_dim() const { return layers_.back()->outputs(); }
  Index num_layers() const { return Index(layers_.size()); }
  Layer& layer(Index l) { return *layers_[l]; }
  const Layer& layer(Index l) const { return *layers_[l]; }
  // Where layer l's slices of params()/grads() and moving_stats() start.
  Index param_offset(Index l) const { return param_offsets_[l]; }
  Index stat_offset(Index l) const { return stat_offsets_[l]; }

  Index num_params() const { return Index(params_.size()); }
  float* params() { return params_.data(); }
  // Gradients of the last step. A step strategy may skip storing them; once
  // read, every later step stores them, so views taken now stay current.
  float* grads();
  bool gradients_observed() const { return gradients_observed_; }
  Index num_stats() const { return Index(stats_.size()); }
  float* moving_stats() { return stats_.data(); }

  // Every layer's initial values, drawn in layer order from one seeded stream.
  void initialize(std::uint64_t seed);
  void set_loss(Loss loss);
  Loss loss() const { return loss_; }
  void set_optimizer(std::shared_ptr<Optimizer> optimizer);
  Optimizer& optimizer() const { return *optimizer_; }
  // Seeds dropout's masks for the following train_step calls.
  void seed_dropout(std::uint64_t seed) { dropout_rng_ = Rng(seed); }

  // Forward, loss, backward and one optimizer update on a batch of n rows.
  // Returns the batch's metrics measured before the update (as Keras reports).
  Metrics train_step(const float* x, Targets y, Index n);

  // One pass over n rows in mini-batches (the last one may be smaller),
  // visiting rows in a random order drawn from `seed` when `shuffle` is set.
  // A non-null `learning_rates` gives the learning rate of each of the
  // epoch's ceil(n / batch_size) steps (a schedule, evaluated by the caller).
  Metrics train_epoch(const float* x, Targets y, Index n, Index batch_size, bool shuffle, std::uint64_t seed,
                      const double* learning_rates = nullptr);

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
  // Inside train_epoch: a strategy may hold work back until settle (step_strategy.hpp).
  bool in_epoch() const { return in_epoch_; }
  // The strategy that took the last training step; null: the reference step.
  const StepStrategy* last_strategy() const { return last_strategy_; }
  // Per-phase timing (instrumented builds only; see testing/step_profile.hpp).
  StepProfile& profile() { return profile_; }

  // The reference step's parts, for step strategies that replace some of them.
  // Runs the layers on n rows; returns the last layer's output.
  const float* forward(const float* x, Index n, bool training);
  // Loss of the last forward pass (without the penalty); with_grad writes
  // dL/d output (n x output_dim, scaled by 1/n) to output_grad().
  Metrics loss(Targets y, Index n, bool with_grad);
  // Sum of the layers' penalties (Keras adds it to the reported loss).
  double penalty() const;
  // Every layer's backward pass, from output_grad(), writing grads().
  void backward(const float* x, Index n);
  // forward, loss (with the penalty) and backward: the reference step but
  // its update. Returns the batch's metrics.
  Metrics gradients(const float* x, Targets y, Index n);
  // One optimizer step over the gradients backward wrote.
  void update();
  float* output_grad() { return delta_.data(); }
  // grads() without marking them observed: for a strategy's own update.
  float* gradient_buffer() { return grads_.data(); }

 private:
  Metrics reference_step(const float* x, Targets y, Index n);
  void reserve(Index n);
  void check_trainable() const;
  static Targets slice(Targets y, Index start, Index output_dim);
  // Copies the shuffled rows [start, start + rows) of the epoch into the batch buffers.
  Targets gather(const float* x, Targets y, Index start, Index rows);
  // Reports progress if the interval has passed (or `last`).
  void report(const Metrics& running, Index done, Index total, bool last,
              std::chrono::steady_clock::time_point& previous);

  Index input_dim_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Index> param_offsets_, stat_offsets_;
  AlignedVector<float> params_, grads_, stats_;
  std::vector<Span> tensor_spans_;  // one per parameter tensor, for per-tensor clipping
  Loss loss_ = Loss::SparseCategoricalCrossentropy;
  bool loss_set_ = false;
  std::shared_ptr<Optimizer> optimizer_;
  Rng dropout_rng_{0};

  std::vector<std::unique_ptr<StepStrategy>> strategies_;
  StepStrategy* last_strategy_ = nullptr;
  bool in_epoch_ = false;
  // Has every strategy apply the work it held back.
  void settle();
  bool gradients_observed_ = false;

  Index capacity_ = 0;
  AlignedVector<float> delta_, delta_next_;     // gradients flowing backward
  AlignedVector<float> batch_x_, batch_dense_;  // gathered mini-batch
  std::vector<std::int32_t> batch_labels_;
  std::vector<std::int64_t> order_;  // row order of the current epoch
  Progress progress_;
  double progress_interval_ = 0.1;
  StepProfile profile_;
};

}  // namespace fastmlp
