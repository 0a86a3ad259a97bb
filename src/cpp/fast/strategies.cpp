// The step strategies, in the order Network asks them.
#include "fast/single_row_step.hpp"
#include "fast/zero_row_update.hpp"

namespace fastmlp {

std::vector<std::unique_ptr<StepStrategy>> fast_step_strategies() {
  std::vector<std::unique_ptr<StepStrategy>> strategies;
  strategies.push_back(std::make_unique<SingleRowStep>());
  strategies.push_back(std::make_unique<ZeroRowUpdate>());
  return strategies;
}

}  // namespace fastmlp
