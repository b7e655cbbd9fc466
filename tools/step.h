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

}  // namespace dive::tools
