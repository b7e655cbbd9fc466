// Small helpers shared by the test suites: a temporary folder removed at scope exit, raw file I/O, the
// check that a call fails with a dive::Error naming what was wrong, and the preconditions that skip a
// case when its backend is missing.
#pragma once
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "lib/core/error.h"
#include "lib/ops/dispatch.h"

namespace dive::test {

struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& tag = "tmp") {
    dir = std::filesystem::temp_directory_path() / ("dive_" + tag + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path(const std::string& name) const { return (dir / name).string(); }
  std::string operator/(const std::string& name) const { return path(name); }
  // Writes `text` to dir/name and returns the path.
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
    f << text;
    return path(name);
  }
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs f and checks that it throws dive::Error whose message contains every one of `parts`.
template <class F>
void expect_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    BOOST_ERROR("expected an error mentioning " << parts.front());
  } catch (const Error& e) {
    std::string m = e.what();
    for (const std::string& p : parts) BOOST_TEST(m.find(p) != std::string::npos, "'" << p << "' not in: " << m);
  }
}

// Boost.Test preconditions: `*boost::unit_test::precondition(test::cuda_present)` reports
// "skipped: no CUDA device" instead of running the case.
inline boost::test_tools::assertion_result cuda_present(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(backend_available(DeviceKind::cuda));
  r.message() << "skipped: no CUDA device";
  return r;
}
inline boost::test_tools::assertion_result cpu_backend_present(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(backend_available(DeviceKind::cpu));
  r.message() << "skipped: no CPU (oneDNN) backend";
  return r;
}

}  // namespace dive::test
