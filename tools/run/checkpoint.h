// Training checkpoints: one safetensors file with the model state (model.<official name>), the AdamW
// state (optim.exp_avg.<name>, optim.exp_avg_sq.<name>) and, in the metadata, epoch, step, best score,
// RNG state and the options used. Written atomically; a checkpoint of another configuration fails to load
// with the list of mismatching tensors.
#pragma once
#include <string>

#include "lib/nn/module.h"
#include "lib/optim/optimizer.h"

namespace dive::tools {

struct TrainState {
  int64_t epoch = 0;        // epochs completed
  int64_t step = 0;         // optimisation steps done
  double best_rsum = -1;
  uint64_t rng_seed = 0, rng_offset = 0;
  std::string options;      // "name = value" lines
};

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Adam* opt, const TrainState& st);
// Loads into `model` (and `opt` when given). Also accepts a plain weights file with official names
// (no model. prefix), e.g. from tools/convert/convert_official.py; then the state is default.
TrainState load_checkpoint(const std::string& path, nn::Module& model, optim::Adam* opt);
// The options stored in a checkpoint ("" for a plain weights file).
std::string checkpoint_options(const std::string& path);

}  // namespace dive::tools
