#pragma once
#include <string>
#include <vector>

namespace dive::tools {
int cmd_step(const std::vector<std::string>& args);
int cmd_synth(const std::vector<std::string>& args);
}
