// One training step (or eval-mode encoding) of the DivE model from safetensors files: the code path of
// `dive step`, shared with the fixture tests.
#pragma once
#include <map>
#include <string>

#include "model/vse.h"

namespace dive::tools {

// Loads weights (official names, strict) and a batch, runs the step on `dev`, returns the tensors that
// `dive step` writes: img_emb, txt_emb, loss terms and grad.<name> (or eval embeddings only).
std::map<std::string, Tensor> run_step(const model::ModelConfig& cfg, const std::string& weights_path,
                                       const std::string& batch_path, Device dev, bool eval);
// The same on an already initialised model: moves it to `dev`; a training step leaves the gradients
// and the updated BN running statistics in `m` (so run an eval pass first, or use a fresh model).
std::map<std::string, Tensor> run_step(model::DiveModel& m, const std::string& batch_path, Device dev, bool eval);

// Sets every state_dict entry from a closed-form formula (no weights file; the fixture writer
// test/reference/det_init.py computes the bit-identical float32 values). Over the sorted state_dict
// keys, k = index of the first key holding the same tensor (shared layers agree); element i (row-major),
// in double, rounded once to float: s = sin((7311 i + 13700 k) / 10000);
//   num_batches_tracked 0, running_mean s/10, running_var 1 + |s|/2, >= 2 dims s/sqrt(shape[-1]),
//   1-D '.weight' 1 + s/10, other 1-D s/10.
void deterministic_init(nn::Module& m);

}  // namespace dive::tools
