// safetensors reader and atomic writer. The reader loads the file with one read, parses the JSON
// header with Boost.JSON and validates every entry (types, dtype, shape, offsets, sizes, overlaps)
// before any byte is copied; every problem becomes a dive::Error naming the file.
#include "lib/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace dive::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host (the format is little-endian)");

namespace json = boost::json;

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  DIVE_FAIL("safetensors '", path, "': ", what);
}

std::string errno_text(int err) { return std::string(std::strerror(err)); }

// A JSON value printed for an error message, cut to a readable length.
std::string show(const json::value& v) {
  std::string s = json::serialize(v);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

// ---- reading -------------------------------------------------------------------------------------

struct FileBytes {
  std::unique_ptr<char[]> data;
  uint64_t size = 0;
};

FileBytes read_whole_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open file: " + errno_text(errno));
  struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(path, "cannot stat file: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) fail(path, "cannot read: not a regular file");
  FileBytes fb;
  fb.size = uint64_t(st.st_size);
  fb.data.reset(new (std::nothrow) char[fb.size > 0 ? fb.size : 1]);
  if (!fb.data) fail(path, "cannot read: out of memory for " + std::to_string(fb.size) + " bytes");
  uint64_t got = 0;
  while (got < fb.size) {
    ssize_t r = ::read(fd, fb.data.get() + got, size_t(std::min<uint64_t>(fb.size - got, 1u << 30)));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(path, "read error: " + errno_text(errno));
    if (r == 0) break;  // shrank while reading: validate what we have
    got += uint64_t(r);
  }
  fb.size = got;
  return fb;
}

struct Entry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

// Non-negative JSON integer -> out. Returns false (with `why`) for negatives and non-integers.
bool nonneg_int(const json::value& v, uint64_t& out, std::string& why) {
  if (v.is_uint64()) { out = v.get_uint64(); return true; }
  if (v.is_int64()) {
    if (v.get_int64() < 0) { why = "negative (" + show(v) + ")"; return false; }
    out = uint64_t(v.get_int64());
    return true;
  }
  why = "not an integer (" + show(v) + ")";
  return false;
}

const json::value& field(const std::string& path, const std::string& name, const json::object& o,
                         const char* key) {
  const json::value* v = o.if_contains(key);
  if (!v) fail(path, "tensor '" + name + "': missing '" + key + "'");
  return *v;
}

Entry parse_entry(const std::string& path, const std::string& name, const json::value& v,
                  uint64_t data_size) {
  if (!v.is_object()) fail(path, "tensor '" + name + "': entry is not a JSON object (" + show(v) + ")");
  const json::object& o = v.get_object();
  Entry e;
  e.name = name;

  const json::value& dt = field(path, name, o, "dtype");
  if (!dt.is_string()) fail(path, "tensor '" + name + "': 'dtype' has wrong type, expected a string (" + show(dt) + ")");
  try {
    e.dtype = safetensors_parse_dtype(std::string(dt.get_string()));
  } catch (const Error&) {
    fail(path, "tensor '" + name + "': unknown dtype '" + std::string(dt.get_string()) +
                   "' (supported: F32 F64 F16 BF16 I64 I32 U8 BOOL)");
  }

  const json::value& sh = field(path, name, o, "shape");
  if (!sh.is_array()) fail(path, "tensor '" + name + "': 'shape' has wrong type, expected an array (" + show(sh) + ")");
  uint64_t numel = 1;
  bool overflow = false;
  for (size_t i = 0; i < sh.get_array().size(); ++i) {
    uint64_t d = 0;
    std::string why;
    if (!nonneg_int(sh.get_array()[i], d, why))
      fail(path, "tensor '" + name + "': shape dimension " + std::to_string(i) + " is " + why);
    if (d > uint64_t(std::numeric_limits<int64_t>::max()))
      fail(path, "tensor '" + name + "': shape dimension " + std::to_string(i) + " is too large (" + std::to_string(d) + ")");
    e.shape.push_back(int64_t(d));
    if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d) overflow = true;
    numel *= d;
  }
  bool empty = std::find(e.shape.begin(), e.shape.end(), 0) != e.shape.end();
  if (empty) { numel = 0; overflow = false; }

  const json::value& off = field(path, name, o, "data_offsets");
  if (!off.is_array() || off.get_array().size() != 2)
    fail(path, "tensor '" + name + "': invalid data_offsets, expected [begin, end] (" + show(off) + ")");
  std::string why;
  if (!nonneg_int(off.get_array()[0], e.begin, why))
    fail(path, "tensor '" + name + "': invalid data_offsets, begin is " + why);
  if (!nonneg_int(off.get_array()[1], e.end, why))
    fail(path, "tensor '" + name + "': invalid data_offsets, end is " + why);
  if (e.begin > e.end)
    fail(path, "tensor '" + name + "': invalid data_offsets, begin " + std::to_string(e.begin) +
                   " > end " + std::to_string(e.end));
  if (e.end > data_size)
    fail(path, "tensor '" + name + "': data_offsets end " + std::to_string(e.end) +
                   " lies beyond the data buffer (" + std::to_string(data_size) + " bytes): file truncated?");

  uint64_t es = dtype_size(e.dtype);
  uint64_t span = e.end - e.begin;
  if (overflow || numel > std::numeric_limits<uint64_t>::max() / es || numel * es != span)
    fail(path, "tensor '" + name + "': byte count mismatch: data_offsets span " + std::to_string(span) +
                   " bytes but shape " + show(sh) + " of " + std::string(dt.get_string()) + " needs " +
                   (overflow ? std::string("more than 2^64") : std::to_string(numel * es)));
  return e;
}

void parse_metadata(const std::string& path, const json::value& v,
                    std::map<std::string, std::string>& out) {
  if (!v.is_object()) fail(path, "__metadata__ is not a JSON object (" + show(v) + ")");
  for (const auto& kv : v.get_object()) {
    if (!kv.value().is_string())
      fail(path, "metadata value for key '" + std::string(kv.key()) + "' is not a string (" +
                     show(kv.value()) + ")");
    out[std::string(kv.key())] = std::string(kv.value().get_string());
  }
}

// ---- writing -------------------------------------------------------------------------------------

// Row-major bytes of a host tensor of any strides (expanded, permuted, sliced).
std::vector<char> gather_bytes(const Tensor& t) {
  size_t es = dtype_size(t.dtype());
  int64_t n = t.numel();
  std::vector<char> out(size_t(n) * es);
  if (n == 0) return out;
  const char* base = static_cast<const char*>(t.raw_data());
  int64_t nd = t.dim();
  std::vector<int64_t> idx(size_t(nd), 0);
  int64_t off = 0;  // element offset of idx
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(out.data() + size_t(i) * es, base + off * int64_t(es), es);
    for (int64_t d = nd - 1; d >= 0; --d) {  // increment the multi-index
      if (++idx[d] < t.shape()[d]) { off += t.strides()[d]; break; }
      off -= (idx[d] - 1) * t.strides()[d];
      idx[d] = 0;
    }
  }
  return out;
}

struct TempFile {
  std::string path;
  int fd = -1;
  bool committed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!committed) ::unlink(path.c_str());
  }
};

void write_all(const std::string& target, int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, std::min<size_t>(n, size_t(1) << 30));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail(target, "write error: " + errno_text(errno));
    p += w;
    n -= size_t(w);
  }
}

void fsync_parent_dir(const std::string& path) {  // best effort: makes the rename durable
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

const char* safetensors_dtype_name(DType dt) {
  switch (dt) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::u8: return "U8";
    case DType::boolean: return "BOOL";
  }
  DIVE_FAIL("safetensors: no dtype name for dtype ", int(dt));
}

DType safetensors_parse_dtype(const std::string& name) {
  if (name == "F32") return DType::f32;
  if (name == "F64") return DType::f64;
  if (name == "F16") return DType::f16;
  if (name == "BF16") return DType::bf16;
  if (name == "I64") return DType::i64;
  if (name == "I32") return DType::i32;
  if (name == "U8") return DType::u8;
  if (name == "BOOL") return DType::boolean;
  DIVE_FAIL("safetensors: unknown dtype '", name, "' (supported: F32 F64 F16 BF16 I64 I32 U8 BOOL)");
}

SafetensorsFile load_safetensors(const std::string& path, Device dev) {
  FileBytes fb = read_whole_file(path);
  if (fb.size < 8)
    fail(path, "file too short (" + std::to_string(fb.size) +
                   " bytes; a safetensors file starts with an 8-byte header length)");
  uint64_t n = 0;
  std::memcpy(&n, fb.data.get(), 8);  // little-endian u64
  if (n > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(n) + " is absurd (limit " +
                   std::to_string(kMaxHeaderBytes) + " bytes)");
  if (n > fb.size - 8)
    fail(path, "header length " + std::to_string(n) + " exceeds the file size (" +
                   std::to_string(fb.size) + " bytes): file truncated?");

  std::string_view text(fb.data.get() + 8, size_t(n));
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) fail(path, "header is not valid JSON: " + ec.message());
  if (!root.is_object()) fail(path, "header is not a JSON object (" + show(root) + ")");

  const char* data = fb.data.get() + 8 + n;
  uint64_t data_size = fb.size - 8 - n;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& kv : root.get_object()) {
    std::string name(kv.key());
    if (name == kMetadataKey) {
      parse_metadata(path, kv.value(), out.metadata);
      continue;
    }
    entries.push_back(parse_entry(path, name, kv.value(), data_size));
  }

  // Overlaps: sort the non-empty byte ranges and require each to start at or after the previous end.
  std::vector<const Entry*> order;
  for (const Entry& e : entries)
    if (e.end > e.begin) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < order.size(); ++i) {
    const Entry& a = *order[i - 1];
    const Entry& b = *order[i];
    if (b.begin < a.end)
      fail(path, "tensors '" + a.name + "' [" + std::to_string(a.begin) + ", " + std::to_string(a.end) +
                     ") and '" + b.name + "' [" + std::to_string(b.begin) + ", " + std::to_string(b.end) +
                     ") overlap");
  }

  for (const Entry& e : entries) {
    // Bounds were checked in parse_entry (end <= data_size, end - begin == numel * size).
    DIVE_CHECK(e.end <= data_size && e.end - e.begin == uint64_t(shape_numel(e.shape)) * dtype_size(e.dtype),
               "safetensors '", path, "': internal bounds check failed for tensor '", e.name, "'");
    out.tensors[e.name] = Tensor::from_raw(data + e.begin, e.shape, e.dtype, dev);
  }
  return out;
}

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot be opened");
  char len[8];
  if (!in.read(len, 8)) fail(path, "file too short (a safetensors file starts with an 8-byte header length)");
  uint64_t n = 0;
  std::memcpy(&n, len, 8);
  if (n > kMaxHeaderBytes) fail(path, "header length " + std::to_string(n) + " is absurd");
  std::string text(size_t(n), '\0');
  if (!in.read(text.data(), std::streamsize(n))) fail(path, "header length " + std::to_string(n) + " exceeds the file size: file truncated?");
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) fail(path, "header is not valid JSON: " + ec.message());
  if (!root.is_object()) fail(path, "header is not a JSON object (" + show(root) + ")");
  std::map<std::string, std::string> meta;
  if (const json::value* m = root.get_object().if_contains(kMetadataKey)) parse_metadata(path, *m, meta);
  return meta;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Header: __metadata__ first (when present), then tensors in name order, offsets back to back.
  json::object header;
  if (!metadata.empty()) {
    json::object m;
    for (const auto& [k, v] : metadata) m[k] = v;
    header[kMetadataKey] = std::move(m);
  }
  std::vector<Tensor> host;
  host.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == kMetadataKey) fail(path, "cannot save a tensor named '__metadata__' (reserved key)");
    if (!t.defined()) fail(path, "tensor '" + name + "' is undefined");
    Tensor h = t.detach();
    if (!h.device().is_host()) h = h.contiguous().to(kCPU);
    json::array shape;
    for (int64_t d : h.shape()) shape.push_back(d);
    json::object e;
    e["dtype"] = safetensors_dtype_name(h.dtype());
    e["shape"] = std::move(shape);
    e["data_offsets"] = json::array{offset, offset + h.nbytes()};
    header[name] = std::move(e);
    offset += h.nbytes();
    host.push_back(h);
  }
  std::string text = json::serialize(header);
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t n = text.size();
  char len[8];
  std::memcpy(len, &n, 8);

  TempFile tmp;
  tmp.path = path + ".tmp." + std::to_string(::getpid());
  tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (tmp.fd < 0) fail(path, "cannot create temporary file '" + tmp.path + "': " + errno_text(errno));
  write_all(path, tmp.fd, len, 8);
  write_all(path, tmp.fd, text.data(), text.size());
  for (const Tensor& h : host) {
    if (h.numel() == 0) continue;
    if (h.is_contiguous()) {
      write_all(path, tmp.fd, static_cast<const char*>(h.raw_data()), h.nbytes());
    } else {
      std::vector<char> bytes = gather_bytes(h);
      write_all(path, tmp.fd, bytes.data(), bytes.size());
    }
  }
  if (::fsync(tmp.fd) != 0) fail(path, "fsync failed: " + errno_text(errno));
  int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) fail(path, "close failed: " + errno_text(errno));
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    fail(path, "cannot rename temporary file '" + tmp.path + "' over it: " + errno_text(errno));
  tmp.committed = true;
  fsync_parent_dir(path);
}

}  // namespace dive::io
