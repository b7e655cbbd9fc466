// Atomic file replacement: bytes go to `path.tmp.<pid>`, which is fsynced and renamed over `path`
// by commit(). Destroying an uncommitted AtomicFile removes the temporary, so a failed or
// interrupted writer never leaves a half-written `path` behind.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace dive::io {

class AtomicFile {
 public:
  // `what` prefixes error messages, e.g. "npy" -> "npy 'x.npy': write error: ...".
  AtomicFile(std::string path, std::string what);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();  // fsync, close, rename over the target, fsync the folder (best effort)

 private:
  std::string path_, tmp_, what_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `bytes` to `path` atomically.
void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what);

}  // namespace dive::io
