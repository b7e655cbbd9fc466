// AtomicFile: temporary file + fsync + rename, with errors naming the target file.
#include "lib/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/core/error.h"

namespace dive::io {

namespace {
std::string errno_text(int err) { return std::string(std::strerror(err)); }
}  // namespace

AtomicFile::AtomicFile(std::string path, std::string what)
    : path_(std::move(path)), what_(std::move(what)) {
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0)
    DIVE_FAIL(what_, " '", path_, "': cannot create temporary file '", tmp_, "': ", errno_text(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  DIVE_CHECK(fd_ >= 0 && !committed_, what_, " '", path_, "': write after commit");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t(1) << 30));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) DIVE_FAIL(what_, " '", path_, "': write error: ", errno_text(errno));
    p += w;
    n -= size_t(w);
  }
}

void AtomicFile::commit() {
  DIVE_CHECK(fd_ >= 0 && !committed_, what_, " '", path_, "': commit twice");
  if (::fsync(fd_) != 0) DIVE_FAIL(what_, " '", path_, "': fsync failed: ", errno_text(errno));
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) DIVE_FAIL(what_, " '", path_, "': close failed: ", errno_text(errno));
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    DIVE_FAIL(what_, " '", path_, "': cannot rename temporary file '", tmp_, "' over it: ",
              errno_text(errno));
  committed_ = true;
  auto slash = path_.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what) {
  AtomicFile f(path, what);
  f.write(bytes);
  f.commit();
}

}  // namespace dive::io
