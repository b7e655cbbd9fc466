// Small helpers shared by the test suites: a temporary folder removed at scope exit, raw file I/O.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

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

}  // namespace dive::test
