#pragma once
#include <string>
#include <vector>

namespace dive::tools {
int cmd_step(const std::vector<std::string>& args);
}
