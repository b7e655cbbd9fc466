#include "lib/core/error.h"

namespace dive::detail {

void throw_error(const char* file, int line, const std::string& msg) {
  std::string f = file;
  auto pos = f.find("lib/");
  if (pos != std::string::npos) f = f.substr(pos);
  throw Error(msg + " [" + f + ":" + std::to_string(line) + "]");
}

}  // namespace dive::detail
