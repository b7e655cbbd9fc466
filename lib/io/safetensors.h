// safetensors files (the Hugging Face format): read and write named tensors plus string metadata.
//
// Layout: u64 little-endian header length N, N bytes of JSON header
//   {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...}
// (offsets relative to the byte buffer that follows the header), then the raw little-endian,
// row-major tensor data. Dtypes: F32 F64 F16 BF16 I64 I32 U8 BOOL.
#pragma once
#include <map>
#include <string>

#include "lib/core/tensor.h"

namespace dive::io {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Reads the whole file; every tensor is a fresh contiguous tensor on `dev`.
// Throws dive::Error naming the file and the problem on any malformed or unreadable input.
SafetensorsFile load_safetensors(const std::string& path, Device dev = kCPU);

// Writes tensors (in name order, header padded with spaces to a multiple of 8 bytes) atomically:
// a temporary file `path.tmp.<pid>` is written, fsynced and renamed over `path`; on failure the
// temporary is removed and dive::Error is thrown. Strided and device tensors are gathered to host.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// Only the __metadata__ of a file (reads the header, not the tensors), e.g. a checkpoint's options.
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);

// "F32" <-> DType::f32 etc. The parser throws dive::Error naming an unknown dtype string.
const char* safetensors_dtype_name(DType dt);
DType safetensors_parse_dtype(const std::string& name);

}  // namespace dive::io
