// A stack of dense layers trained as one unit.
//
// All parameters live in one contiguous float32 buffer, all gradients in a
// second one of the same layout: for each layer, W (in x out, row-major) then
// b (out). Activations and scratch are sized for the largest batch seen and
// reused, so a steady-state training step allocates nothing.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "activations.hpp"
#include "aligned.hpp"
#include "initializers.hpp"
#include "losses.hpp"
#include "matrix.hpp"
#include "optim/optimizer.hpp"

namespace fastmlp {

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
  Network(Index input_dim, std::vector<Index> units, std::vector<Activation> activations);

  Index input_dim() const { return input_dim_; }
  Index output_dim() const { return units_.back(); }
  Index num_layers() const { return Index(units_.size()); }
  Index layer_inputs(Index layer) const { return layer == 0 ? input_dim_ : units_[layer - 1]; }
  Index layer_units(Index layer) const { return units_[layer]; }
  Activation layer_activation(Index layer) const { return activations_[layer]; }
  Index weight_offset(Index layer) const { return offsets_[layer]; }
  Index bias_offset(Index layer) const { return offsets_[layer] + layer_inputs(layer) * units_[layer]; }

  Index num_params() const { return Index(params_.size()); }
  float* params() { return params_.data(); }
  float* grads() { return grads_.data(); }

  // Kernels from `kernel_init` (one per layer), biases zero; same seed, same weights.
  void initialize(const std::vector<Initializer>& kernel_init, std::uint64_t seed);

  void set_loss(Loss loss);
  Loss loss() const { return loss_; }
  void set_optimizer(std::shared_ptr<Optimizer> optimizer);
  Optimizer* optimizer() const { return optimizer_.get(); }

  // Forward, loss, backward and one optimizer update on a batch of n rows.
  // Returns the batch's metrics measured before the update (as Keras reports).
  Metrics train_step(const float* x, Targets y, Index n);

  // One pass over n rows in mini-batches (the last one may be smaller),
  // visiting rows in a random order drawn from `seed` when `shuffle` is set.
  // A non-null `learning_rates` gives the learning rate of each of the
  // epoch's ceil(n / batch_size) steps (a schedule, evaluated by the caller).
  Metrics train_epoch(const float* x, Targets y, Index n, Index batch_size, bool shuffle,
                      std::uint64_t seed, const double* learning_rates = nullptr);

  // Outputs (n x output_dim) after the final activation.
  void predict(const float* x, Index n, float* out, Index batch_size);

  Metrics evaluate(const float* x, Targets y, Index n, Index batch_size);

  // Largest batch the workspace currently holds.
  Index capacity() const { return capacity_; }

 private:
  // Softmax output with a cross-entropy loss: the loss takes logits, stably.
  bool fused_softmax_loss() const {
    return activations_.back() == Activation::Softmax && loss_ != Loss::MeanSquaredError;
  }
  void reserve(Index n);
  // Runs the layers on n rows; the last buffer holds logits when the loss is fused.
  const float* forward(const float* x, Index n);
  // Loss and gradient w.r.t. the last layer's pre-activation, written to delta_.
  Metrics loss_and_output_grad(Targets y, Index n, bool with_grad);
  void backward(const float* x, Index n);
  void apply_optimizer();
  static Targets slice(Targets y, Index start, Index output_dim);

  Index input_dim_;
  std::vector<Index> units_;
  std::vector<Activation> activations_;
  std::vector<Index> offsets_;
  AlignedVector<float> params_, grads_;
  Loss loss_ = Loss::SparseCategoricalCrossentropy;
  bool loss_set_ = false;
  std::shared_ptr<Optimizer> optimizer_;

  // Workspace for up to capacity_ rows.
  Index capacity_ = 0;
  std::vector<AlignedVector<float>> outputs_;  // outputs_[l]: layer l's output
  AlignedVector<float> delta_, delta_next_;   // gradients flowing backward
  AlignedVector<float> batch_x_, batch_dense_; // gathered mini-batch
  std::vector<std::int32_t> batch_labels_;
  std::vector<std::int64_t> order_;  // row order of the current epoch
  std::vector<Span> tensor_spans_;   // one per W and b, for per-tensor clipping
};

}  // namespace fastmlp
