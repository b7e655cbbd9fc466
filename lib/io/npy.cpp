// .npy reader, memory-mapped reader and atomic writer. The header (a Python dict literal) is parsed
// by a small strict parser that accepts exactly what NumPy writes: string keys, a descr string,
// True/False and a tuple of non-negative integers.
#include "lib/io/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>

#include "lib/io/atomic_file.h"

namespace dive::io {

static_assert(std::endian::native == std::endian::little, ".npy I/O assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr uint64_t kMaxHeaderBytes = 1u << 24;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  DIVE_FAIL("npy '", path, "': ", what);
}

std::string errno_text(int err) { return std::string(std::strerror(err)); }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly n bytes at offset; returns the count actually read (short at end of file).
size_t read_at(const std::string& path, int fd, char* p, size_t n, uint64_t off) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, p + got, std::min<size_t>(n - got, size_t(1) << 30), off_t(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(path, "read error: " + errno_text(errno));
    if (r == 0) break;
    got += size_t(r);
  }
  return got;
}

// ---- header dict parser ---------------------------------------------------------------------------

struct HeaderParser {
  const std::string& path;
  const std::string& s;
  size_t i = 0;

  [[noreturn]] void bad(const std::string& what) const {
    std::string shown = s.substr(0, std::min<size_t>(s.size(), 120));
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == ' ')) shown.pop_back();
    fail(path, "malformed header (" + what + " at character " + std::to_string(i) + "): " + shown);
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string str() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) bad("expected a quoted string");
    char q = s[i++];
    size_t start = i;
    while (i < s.size() && s[i] != q) ++i;
    if (i >= s.size()) bad("unterminated string");
    return s.substr(start, i++ - start);
  }
  bool boolean() {
    ws();
    if (s.compare(i, 4, "True") == 0) return i += 4, true;
    if (s.compare(i, 5, "False") == 0) return i += 5, false;
    bad("expected True or False");
  }
  Shape tuple() {
    if (!eat('(')) bad("expected a shape tuple");
    Shape shape;
    while (true) {
      if (eat(')')) break;
      ws();
      if (i >= s.size() || s[i] < '0' || s[i] > '9') bad("expected a non-negative integer dimension");
      uint64_t v = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (v > (uint64_t(1) << 56)) bad("dimension too large");
        v = v * 10 + uint64_t(s[i++] - '0');
      }
      if (i < s.size() && s[i] == 'L') ++i;  // Python 2 long literal
      shape.push_back(int64_t(v));
      if (eat(')')) break;
      if (!eat(',')) bad("expected ',' or ')' in the shape");
    }
    return shape;
  }
};

DType parse_descr(const std::string& path, const std::string& d) {
  if (d.size() < 2) fail(path, "unsupported dtype descr '" + d + "'");
  char order = d[0];
  std::string kind = d.substr(1);
  if (kind.find('O') != std::string::npos) fail(path, "object arrays (descr '" + d + "') are not supported");
  struct Known { const char* k; DType dt; };
  static const Known known[] = {{"f4", DType::f32}, {"f8", DType::f64}, {"i8", DType::i64},
                                {"i4", DType::i32}, {"u1", DType::u8},  {"b1", DType::boolean}};
  std::optional<DType> dt;
  for (const Known& k : known)
    if (kind == k.k) dt = k.dt;
  if (!dt) fail(path, "unsupported dtype descr '" + d + "' (supported: <f4 <f8 <i8 <i4 |u1 |b1)");
  if (order == '>' && dtype_size(*dt) > 1)
    fail(path, "big-endian data (descr '" + d + "') is not supported; convert with astype('<" + kind + "')");
  if (order != '<' && order != '|' && order != '=' && order != '>')
    fail(path, "unsupported byte order in descr '" + d + "'");
  return *dt;
}

NpyInfo parse_header(const std::string& path, int fd, uint64_t file_size) {
  char pre[12];
  size_t got = read_at(path, fd, pre, 10, 0);
  if (got < 8 || std::memcmp(pre, kMagic, 6) != 0)
    fail(path, "not a .npy file (bad magic; expected \\x93NUMPY)");
  NpyInfo info;
  info.version_major = static_cast<unsigned char>(pre[6]);
  int minor = static_cast<unsigned char>(pre[7]);
  if (info.version_major < 1 || info.version_major > 3 || minor != 0)
    fail(path, "unsupported format version " + std::to_string(info.version_major) + "." +
                   std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  uint64_t len_bytes = info.version_major == 1 ? 2 : 4;
  if (got < 8 + len_bytes) got += read_at(path, fd, pre + got, 8 + len_bytes - got, got);
  if (got < 8 + len_bytes) fail(path, "truncated header length field");
  uint64_t hlen = 0;
  for (uint64_t b = 0; b < len_bytes; ++b) hlen |= uint64_t(static_cast<unsigned char>(pre[8 + b])) << (8 * b);
  if (hlen > kMaxHeaderBytes) fail(path, "header length " + std::to_string(hlen) + " is implausibly large");
  uint64_t start = 8 + len_bytes;
  if (start + hlen > file_size)
    fail(path, "truncated header: needs " + std::to_string(hlen) + " bytes, file has " +
                   std::to_string(file_size - start));
  std::string text(hlen, '\0');
  read_at(path, fd, text.data(), hlen, start);

  HeaderParser p{path, text};
  if (!p.eat('{')) p.bad("expected '{'");
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<Shape> shape;
  while (!p.eat('}')) {
    std::string key = p.str();
    if (!p.eat(':')) p.bad("expected ':' after '" + key + "'");
    if (key == "descr") {
      p.ws();
      if (p.i < text.size() && text[p.i] == '[')
        fail(path, "structured arrays (a descr list) are not supported");
      descr = p.str();
    } else if (key == "fortran_order") {
      fortran = p.boolean();
    } else if (key == "shape") {
      shape = p.tuple();
    } else {
      p.bad("unexpected key '" + key + "'");
    }
    if (!p.eat(',')) {
      if (!p.eat('}')) p.bad("expected ',' or '}'");
      break;
    }
  }
  if (!descr || !fortran || !shape) fail(path, "header lacks one of 'descr', 'fortran_order', 'shape'");
  info.dtype = parse_descr(path, *descr);
  if (*fortran) fail(path, "Fortran-order arrays are not supported (save with np.ascontiguousarray)");
  info.shape = *shape;
  uint64_t n = 1;
  for (int64_t d : info.shape)
    if (__builtin_mul_overflow(n, uint64_t(d), &n)) fail(path, "shape " + shape_str(info.shape) + " overflows");
  if (__builtin_mul_overflow(n, uint64_t(dtype_size(info.dtype)), &info.data_bytes))
    fail(path, "shape " + shape_str(info.shape) + " overflows");
  info.data_offset = start + hlen;
  if (file_size - info.data_offset < info.data_bytes)
    fail(path, "truncated data: shape " + shape_str(info.shape) + " " + dtype_name(info.dtype) + " needs " +
                   std::to_string(info.data_bytes) + " bytes, file has " +
                   std::to_string(file_size - info.data_offset));
  return info;
}

uint64_t open_regular(const std::string& path, Fd& fd) {
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd.fd < 0) fail(path, "cannot open file: " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) fail(path, "cannot stat file: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) fail(path, "cannot read: not a regular file");
  return uint64_t(st.st_size);
}

}  // namespace

std::string npy_descr(DType dt) {
  switch (dt) {
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i64: return "<i8";
    case DType::i32: return "<i4";
    case DType::u8: return "|u1";
    case DType::boolean: return "|b1";
    default: DIVE_FAIL("npy: dtype ", dtype_name(dt), " has no .npy mapping here (use f32)");
  }
}

NpyInfo read_npy_info(const std::string& path) {
  Fd fd;
  uint64_t size = open_regular(path, fd);
  return parse_header(path, fd.fd, size);
}

Tensor load_npy(const std::string& path, Device dev) {
  Fd fd;
  uint64_t size = open_regular(path, fd);
  NpyInfo info = parse_header(path, fd.fd, size);
  Tensor t = Tensor::empty(info.shape, info.dtype, kCPU);
  if (info.data_bytes > 0) {
    size_t got = read_at(path, fd.fd, static_cast<char*>(t.raw_data()), info.data_bytes, info.data_offset);
    if (got != info.data_bytes) fail(path, "truncated data (file shrank while reading)");
  }
  if (info.dtype == DType::boolean) {
    const uint8_t* b = static_cast<const uint8_t*>(t.raw_data());
    for (uint64_t k = 0; k < info.data_bytes; ++k)
      if (b[k] > 1) fail(path, "bool array holds byte value " + std::to_string(b[k]) + " at element " + std::to_string(k));
  }
  return dev.is_host() ? t : t.to(dev);
}

void save_npy(const std::string& path, const Tensor& t) {
  DIVE_CHECK(t.defined(), "npy '", path, "': cannot save an undefined tensor");
  std::string descr = npy_descr(t.dtype());
  Tensor h = t.detach();
  if (!h.device().is_host()) h = h.to(kCPU);
  h = h.contiguous();
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t k = 0; k < h.shape().size(); ++k) {
    dict += std::to_string(h.shape()[k]);
    if (h.shape().size() == 1 || k + 1 < h.shape().size()) dict += k + 1 < h.shape().size() ? ", " : ",";
  }
  dict += "), }";
  // v1: magic(6) + version(2) + u16 length; pad so that the data starts on a 64-byte boundary.
  bool v2 = dict.size() + 1 + 10 > 65535;
  size_t pre = v2 ? 12 : 10;
  size_t total = pre + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string head(kMagic, 6);
  head += char(v2 ? 2 : 1);
  head += char(0);
  uint32_t hlen = uint32_t(dict.size());
  for (size_t b = 0; b < (v2 ? 4u : 2u); ++b) head += char((hlen >> (8 * b)) & 0xff);
  AtomicFile f(path, "npy");
  f.write(head);
  f.write(dict);
  if (h.numel() > 0) f.write(h.raw_data(), h.nbytes());
  f.commit();
}

// ---- memory map ------------------------------------------------------------------------------------

NpyMap NpyMap::open(const std::string& path) {
  Fd fd;
  uint64_t size = open_regular(path, fd);
  NpyMap m;
  m.path_ = path;
  m.info_ = parse_header(path, fd.fd, size);
  m.map_bytes_ = size_t(size);
  if (size > 0) {
    void* p = ::mmap(nullptr, m.map_bytes_, PROT_READ, MAP_SHARED, fd.fd, 0);
    if (p == MAP_FAILED) fail(path, "mmap failed: " + errno_text(errno));
    m.base_ = static_cast<const char*>(p);
  }
  return m;
}

NpyMap::NpyMap(NpyMap&& o) noexcept
    : path_(std::move(o.path_)), info_(o.info_), base_(o.base_), map_bytes_(o.map_bytes_) {
  o.base_ = nullptr;
  o.map_bytes_ = 0;
}

NpyMap& NpyMap::operator=(NpyMap&& o) noexcept {
  if (this != &o) {
    release();
    path_ = std::move(o.path_);
    info_ = o.info_;
    base_ = o.base_;
    map_bytes_ = o.map_bytes_;
    o.base_ = nullptr;
    o.map_bytes_ = 0;
  }
  return *this;
}

NpyMap::~NpyMap() { release(); }

void NpyMap::release() {
  if (base_) ::munmap(const_cast<char*>(base_), map_bytes_);
  base_ = nullptr;
  map_bytes_ = 0;
}

int64_t NpyMap::rows() const {
  DIVE_CHECK(!info_.shape.empty(), "npy '", path_, "': a 0-d array has no rows");
  return info_.shape[0];
}

uint64_t NpyMap::row_bytes() const {
  DIVE_CHECK(!info_.shape.empty(), "npy '", path_, "': a 0-d array has no rows");
  uint64_t n = dtype_size(info_.dtype);
  for (size_t k = 1; k < info_.shape.size(); ++k) n *= uint64_t(info_.shape[k]);
  return n;
}

const void* NpyMap::row(int64_t i) const {
  int64_t n = rows();
  DIVE_CHECK(i >= 0 && i < n, "npy '", path_, "': row ", i, " out of range [0, ", n, ")");
  return base_ + info_.data_offset + uint64_t(i) * row_bytes();
}

}  // namespace dive::io
