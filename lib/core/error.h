// dive::Error and the check macros. The library throws; only tools/ catch and print.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace dive {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);
// Builds a message from any streamable pieces: cat("got ", 3, " dims").
template <class... Ts>
std::string cat(const Ts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
}  // namespace detail

}  // namespace dive

// DIVE_CHECK(cond, pieces...): throws dive::Error "<msg> [file:line]" when cond is false.
#define DIVE_CHECK(cond, ...)                                                      \
  do {                                                                             \
    if (!(cond)) ::dive::detail::throw_error(__FILE__, __LINE__,                    \
                                             ::dive::detail::cat(__VA_ARGS__));    \
  } while (0)
#define DIVE_FAIL(...) ::dive::detail::throw_error(__FILE__, __LINE__, ::dive::detail::cat(__VA_ARGS__))
