// The layer interface. A layer kind is one class in one file (dense.cpp,
// batch_normalization.cpp, ...) with its forward/backward pair, the shapes
// of its parameter tensors and its workspace; the network only calls
// through this interface.
//
// Shape legend: n rows in the batch, `in` values per input row, `out` per
// output row. Every buffer is row-major float32.
//   forward:  x (n, in) -> output() (n, out)
//   backward: dy (n, out) = dL/d output -> dx (n, in), and the gradients of
//             the layer's parameters written to its slice of the flat
//             gradient buffer (overwritten, not accumulated).
#pragma once
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/aligned.hpp"
#include "runtime/matrix.hpp"
#include "runtime/rng.hpp"

namespace fastmlp {

// What a forward pass needs besides its input.
struct ForwardPass {
  bool training = false;
  Rng* rng = nullptr;  // dropout's masks, drawn in layer order
};

// A layer's settings by name, as the model describes it (the bindings read
// them from a Python dict). A value of the wrong type throws.
class LayerConfig {
 public:
  virtual ~LayerConfig() = default;
  virtual std::string kind() const = 0;
  virtual double number(const char* key, double fallback) const = 0;
  virtual std::string text(const char* key, const std::string& fallback) const = 0;
};

// The number of values in a tensor of this shape; throws where the count
// would not fit an Index (a layer too large to allocate).
inline Index shape_size(const std::vector<Index>& shape) {
  Index size = 1;
  for (Index d : shape)
    if (d < 0 || __builtin_mul_overflow(size, d, &size))
      throw std::invalid_argument("a layer's tensor has too many values to allocate");
  return size;
}

class Layer {
 public:
  Layer(Index in, Index out) : in_(in), out_(out) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  virtual const char* kind() const = 0;
  Index inputs() const { return in_; }
  Index outputs() const { return out_; }

  // Trained parameters, as tensors laid end to end in the flat buffers
  // (Dense: W (in, out) then b (out)), and state that is not trained
  // (BatchNormalization's moving statistics), the same way.
  virtual std::vector<std::vector<Index>> param_shapes() const { return {}; }
  virtual std::vector<std::vector<Index>> stat_shapes() const { return {}; }
  Index param_count() const { return count(param_shapes()); }
  Index stat_count() const { return count(stat_shapes()); }

  // Where this layer's slices of the network's flat buffers start.
  void attach(float* params, float* grads, float* stats) {
    params_ = params;
    grads_ = grads;
    stats_ = stats;
  }
  // Sets the parameters and statistics to their initial values.
  virtual void initialize(Rng& /*rng*/) {}

  // Sizes the workspace for batches of up to `rows` rows.
  void reserve(Index rows) {
    output_.resize(std::size_t(rows * out_));
    reserve_workspace(rows);
  }
  float* output() { return output_.data(); }
  const float* output() const { return output_.data(); }

  virtual void forward(const float* x, Index n, const ForwardPass& pass) = 0;
  // dy may be overwritten (an activation's derivative is applied in place);
  // dx is null for the first layer, which needs none.
  virtual void backward(const float* x, float* dy, float* dx, Index n) = 0;

  // Penalty added to the loss (kernel regularizers); its gradient is added in backward.
  virtual double penalty() const { return 0; }

  // A softmax output whose loss is computed from the logits (cross-entropy):
  // forward then stops before the softmax and backward takes dL/dlogits.
  virtual bool can_emit_logits() const { return false; }
  virtual void set_emit_logits(bool) {}
  // The activation that the network applies to logits for predictions.
  virtual void finish_logits(const float* logits, float* out, Index n) const {
    std::copy(logits, logits + n * out_, out);
  }

  // The network's input reaches this layer unchanged: a layer may then take
  // a path made for sparse inputs (Dense's products through the nonzeros).
  virtual void set_takes_network_input(bool) {}

 protected:
  virtual void reserve_workspace(Index /*rows*/) {}
  float* params_ = nullptr;
  float* grads_ = nullptr;
  float* stats_ = nullptr;
  Index in_, out_;
  AlignedVector<float> output_;

 private:
  static Index count(const std::vector<std::vector<Index>>& shapes) {
    Index total = 0;
    for (const auto& shape : shapes)
      if (__builtin_add_overflow(total, shape_size(shape), &total))
        throw std::invalid_argument("a layer has too many parameters to allocate");
    return total;
  }
};

// A layer of config.kind() on rows of `input_width` values (layers/registry.cpp).
std::unique_ptr<Layer> make_layer(const LayerConfig& config, Index input_width);

}  // namespace fastmlp
