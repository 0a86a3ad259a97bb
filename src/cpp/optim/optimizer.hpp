// An optimizer is one fused kernel over flat float32 buffers plus the state
// buffers that kernel owns (momenta, second moments, ...), allocated once the
// parameter count is known and reused every step.
//
// A step updates one or more spans (params, grads) in a single pass each:
// every parameter, gradient and state value is read once and written once.
// Spans share one state buffer, laid end to end in span order; a model
// passes its whole flat buffer as one span (or one per tensor when clipping
// by per-tensor norm), a standalone optimizer one span per NumPy array.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/aligned.hpp"
#include "runtime/matrix.hpp"
#include "runtime/parallel.hpp"

namespace fastmlp {

struct Span {
  float* params;
  const float* grads;
  Index size;
  // Other threads have just read params (a forward pass on several threads):
  // the update then claims their cache lines ahead of its stores (fused_loop).
  bool shared_params = false;
};

// What happens to a gradient (and parameter) before the update rule sees it,
// in this order: sign and norm scale, clip by value, coupled L2 decay, and
// decoupled decay of the parameter itself.
struct GradientTransform {
  float scale = 1;                                      // -1 for maximize, times a norm-clip factor
  float clip = std::numeric_limits<float>::infinity();  // |g| <= clip
  float l2 = 0;                                         // g += l2 * p   (torch weight_decay)
  // Decoupled decay in either framework's rounding, without a branch:
  // PyTorch p * (1 - lr wd) sets keep = 1 - lr wd, decay = 0;
  // Keras p - p * (wd lr) sets keep = 1, decay = wd lr. (x * 1 and x - 0 are exact.)
  float keep = 1;
  float decay = 0;

  float grad(float g, float p) const {
    g *= scale;
    g = g < -clip ? -clip : (g > clip ? clip : g);
    return g + l2 * p;
  }
  float decayed(float p) const { return p * keep - p * decay; }
  bool is_identity() const {
    return scale == 1 && clip == std::numeric_limits<float>::infinity() && l2 == 0 && keep == 1 && decay == 0;
  }
};

// The identity transform as a type of its own (with_transform), for the
// rules' loops: without a sign flip, clipping or weight decay (the default)
// they then do none of the transform's work, and read g and p as they are.
// That is also what PyTorch and Keras compute there: p * 1 - p * 0 would turn
// an infinite weight into NaN and -0 into +0.
struct IdentityTransform {
  static float grad(float g, float) { return g; }
  static float decayed(float p) { return p; }
};

// Calls f(IdentityTransform{}) or f(t): the rule's loop compiled for each.
template <class F>
inline void with_transform(const GradientTransform& t, F&& f) {
  if (t.is_identity())
    f(IdentityTransform{});
  else
    f(t);
}

// Plain SGD after the transform, p <- decayed(p) - lr * grad(g, p): both
// frameworks' rule without momentum, in one place so that every caller
// (the buffer pass and Network's updates inside backward) rounds alike.
// Transform is GradientTransform or IdentityTransform (then p - lr * g).
template <class Transform>
struct PlainSgdRule {
  Transform transform;
  float lr;
  float apply(float p, float g) const { return transform.decayed(p) - lr * transform.grad(g, p); }
};

// Calls f(PlainSgdRule<...>) for this transform (with_transform).
template <class F>
inline void with_plain_sgd_rule(const GradientTransform& t, float lr, F&& f) {
  with_transform(t, [&](auto transform) { f(PlainSgdRule<decltype(transform)>{transform, lr}); });
}

// Runs f(i) for i in [0, n): OpenMP chunks above the threshold, SIMD within.
// simd:static makes every chunk a whole number of vectors, so each element
// takes the same code path (vector body or the one tail) for any thread
// count: results are bit-identical on 1 or 16 threads.
// Each thread works on its own copy of f: the captured pointers and
// constants then live in registers, where stores through those pointers
// cannot alias them (without the copy the loop reloads them every element
// and runs an order of magnitude slower).
template <class F>
inline void fused_loop(Index n, const F& f) {
  parallel_for(n, f);
}

// fused_loop(span.size, f) for a body that writes span.params. Where other
// threads have just read them (span.shared_params), each thread first
// rewrites the parameter values it will update a few cache lines ahead (one
// value per line, unchanged). A forward pass on two threads leaves the
// weights' lines in both cores' caches, and the update's store to a shared
// line waits while the other copy is invalidated; stores issued ahead
// overlap those waits. (A prefetchw made no difference here.) In training
// steps of the references' model at batch 32, 2 threads, Adam's update took
// 110-145 us with plain stores, 74-88 us so. Elsewhere the rewrites cost:
// Adam alone on 266,610 parameters took 71 us with them against 50-63
// without, and on 16.7M parameters (whose lines have left the other core
// by the time they are updated) about 9% more.
constexpr Index kClaimMaxElements = Index(1) << 20;
template <class F>
inline void fused_loop(const Span& span, const F& f) {
  if (!span.shared_params || span.size > kClaimMaxElements) return fused_loop(span.size, f);
  static constexpr Index kLine = 16, kBlock = 4 * kLine, kAhead = 16 * kLine;  // floats
  float* const params = span.params;
  const Index n = span.size;
  auto share = [&](Index t, Index nt) {
    const F local = f;
    const Index lines = (n + kLine - 1) / kLine;
    const Index begin = std::min(n, kLine * (lines * t / nt)), end = std::min(n, kLine * (lines * (t + 1) / nt));
    // Only this thread's own values, and only before their update, so the
    // rewrite leaves every bit as it was (volatile: the compiler must keep it).
    auto claim = [params](Index from, Index to) {
      for (Index j = from; j < to; j += kLine) {
        volatile float* value = params + j;
        *value = *value;
      }
    };
    claim(begin, std::min(end, begin + kAhead));
    for (Index b = begin; b < end; b += kBlock) {
      const Index e = std::min(end, b + kBlock);
      claim(std::min(end, b + kAhead), std::min(end, e + kAhead));
#pragma omp simd
      for (Index i = b; i < e; ++i) local(i);
    }
  };
  run_shares(n >= kParallelMinElements ? num_threads() : 1, share);
}

// Calls f(std::true_type{}) or f(std::false_type{}): an option then becomes
// a compile-time branch in the loop body. (A run-time test of a null state
// pointer inside the loop made GCC emit code 5-7x slower.)
template <class F>
inline void with_option(bool on, F&& f) {
  if (on)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// PyTorch's lerp, a + w (b - a), computed from the nearer end: exact at w = 1.
// (Keras writes its moving averages as a + (b - a) w for every w.)
inline float torch_lerp(float a, float b, float w) { return w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w); }

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;

  // Per-element state buffers, by name (torch's names where torch has them).
  virtual std::vector<std::string> state_names() const { return {}; }
  // Per-step scalar state (for example NAdam's running momentum product).
  virtual std::vector<std::string> scalar_names() const { return {}; }
  virtual double* scalar(std::size_t) { return nullptr; }

  // Sizes the state for n parameters and sets it to its initial values.
  void bind(Index n);
  Index bound_size() const { return bound_size_; }
  float* state(std::size_t i) { return states_.at(i).data(); }
  const float* state(std::size_t i) const { return states_.at(i).data(); }
  std::size_t num_states() const { return states_.size(); }

  // One update of all spans (their total size is the bound size; a new
  // total re-binds, zeroing the state).
  void step(const Span* spans, std::size_t count);
  void step(float* params, const float* grads, Index n) {
    const Span whole{params, grads, n};
    step(&whole, 1);
  }

  // True when the caller must pass one span per tensor (per-tensor clipnorm).
  bool wants_tensor_spans() const { return clip_norm > 0; }

  // True without norm clipping: each parameter's update then needs only its
  // own gradient and this step's constants, so a caller may apply a step in
  // pieces, as it forms the gradients, without storing them (begin_direct_step).
  bool updates_piecewise() const { return clip_norm == 0 && global_clip_norm == 0; }

  // True for plain SGD (PlainSgdRule) without weight decay or norm clipping:
  // a zero gradient then leaves its parameter exactly as it is, so an update
  // may skip stretches of zero gradients (step_ranges), and a caller may
  // apply the rule value by value (begin_direct_step).
  bool skips_zero_gradients() const {
    return is_plain_sgd() && l2_weight_decay == 0 && decoupled_weight_decay == 0 && clip_norm == 0 &&
           global_clip_norm == 0;
  }

  // An optional capability of a rule: where, under the current settings, a
  // step on a +0 gradient (after the identity transform) leaves every weight
  // that is 0 or a normal float as it is, and changes only one state buffer,
  // value by value, by s <- factor * s + addend (a product, then a sum, as
  // the rule rounds it) while that buffer is finite and >= 0, the rule fills
  // in that map and returns true. A caller may then hold such steps back
  // and apply them to the state later (fast/zero_step_deferral.hpp): the
  // same bits. RMSprop without momentum or centering, and Adagrad.
  struct ZeroStepMap {
    std::size_t state = 0;
    float factor = 1, addend = 0;
  };
  virtual bool zero_step_map(ZeroStepMap& /*map*/) const { return false; }

  // One update of the whole buffer (params, grads, n) that visits only
  // [begin, end) of each range; every gradient outside them must be zero and
  // skips_zero_gradients() true. (An infinite parameter is left as it is,
  // where a full pass with a sign flip or value clipping, p * 1 - p * 0,
  // would make it NaN; with the identity transform the two agree.)
  struct Range {
    Index begin, end;
  };
  void step_ranges(float* params, const float* grads, Index n, const Range* ranges, std::size_t count);

  // A step the caller applies itself, between begin_direct_step() (this
  // step's transform and learning rate) and end_direct_step(), where
  // updates_piecewise() holds: by update_piece on spans that together cover
  // the bound buffer once, from any threads for disjoint spans, or, where
  // skips_zero_gradients() holds, value by value with with_plain_sgd_rule.
  std::pair<GradientTransform, float> begin_direct_step(Index n);
  void update_piece(const Span& span, Index offset, const GradientTransform& transform) {
    update(span, offset, transform);
  }
  void end_direct_step();

  // Hyperparameters shared by every rule.
  double learning_rate = 0.01;
  std::int64_t iterations = 0;  // updates applied so far
  bool maximize = false;
  double l2_weight_decay = 0;         // coupled: added to the gradient
  double decoupled_weight_decay = 0;  // p -= lr * decoupled_weight_decay * p, before the rule
  bool torch_decay_form = false;      // round it as p * (1 - lr wd), PyTorch's form
  double clip_value = 0;              // 0: off
  double clip_norm = 0;               // per span (tensor); 0: off
  double global_clip_norm = 0;        // over all spans; 0: off

 protected:
  // Initial value of state buffer i (Adagrad's accumulator starts above 0).
  virtual float initial_state(std::size_t) const { return 0.0f; }
  // Per-step constants from t = iterations + 1 and the learning rate.
  virtual void prepare(std::int64_t /*t*/) {}
  // The rule on one span whose state starts at `offset`.
  virtual void update(const Span& span, Index offset, const GradientTransform& transform) = 0;
  // After all spans (for example, advance a running product).
  virtual void finish(std::int64_t /*t*/) {}
  // The rule is PlainSgdRule (SGD without momentum); see skips_zero_gradients.
  virtual bool is_plain_sgd() const { return false; }

 private:
  // Sign, value clipping and weight decay, from the hyperparameters.
  GradientTransform base_transform() const;
  std::vector<AlignedVector<float>> states_;
  Index bound_size_ = -1;
};

// sum of g^2 over n values, in double, deterministic for any thread count.
double sum_of_squares(const float* g, Index n);

}  // namespace fastmlp
