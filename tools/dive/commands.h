// The subcommands of the dive command; each parses its flags, calls tools/run and prints.
#pragma once
#include <string>
#include <vector>

namespace dive::tools {
int cmd_step(const std::vector<std::string>& args);
int cmd_synth(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_encode(const std::vector<std::string>& args);
int cmd_search(const std::vector<std::string>& args);
}  // namespace dive::tools
