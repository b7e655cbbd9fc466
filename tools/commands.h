#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/vse.h"

namespace dive::tools {
int cmd_step(const std::vector<std::string>& args);
int cmd_synth(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_encode(const std::vector<std::string>& args);
int cmd_search(const std::vector<std::string>& args);

std::unique_ptr<model::DiveModel> load_model_for_inference(const std::vector<std::string>& args,
                                                           model::OptionSet& opts, model::ModelConfig& cfg,
                                                           const std::string& checkpoint, Device dev);
}  // namespace dive::tools
