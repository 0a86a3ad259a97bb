// The layer kinds the network can build, by the name a model gives them.
// A new kind is a new file and one line here.
#include <stdexcept>

#include "layers/dense.hpp"

namespace fastmlp {

std::unique_ptr<Layer> make_batch_normalization(const LayerConfig& config, Index in);
std::unique_ptr<Layer> make_dropout(const LayerConfig& config, Index in);
std::unique_ptr<Layer> make_activation(const LayerConfig& config, Index in);

std::unique_ptr<Layer> make_layer(const LayerConfig& config, Index in) {
  const std::string kind = config.kind();
  if (kind == "dense") return Dense::from_config(config, in);
  if (kind == "batch_norm") return make_batch_normalization(config, in);
  if (kind == "dropout") return make_dropout(config, in);
  if (kind == "activation") return make_activation(config, in);
  throw std::invalid_argument("unknown layer kind '" + kind + "'; expected dense, batch_norm, dropout or activation");
}

}  // namespace fastmlp
