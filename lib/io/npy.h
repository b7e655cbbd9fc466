// NumPy .npy files: header versions 1.0, 2.0 and 3.0, C order, little-endian
// f32 ('<f4'), f64 ('<f8'), i64 ('<i8'), i32 ('<i4'), u8 ('|u1') and bool ('|b1').
//
// Layout: "\x93NUMPY", major, minor, header length (u16 LE for v1, u32 LE for v2/v3), then a
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with
// spaces and ended by '\n', then the raw row-major data.
// Fortran order, object/structured arrays, big-endian data, unknown dtypes, bad magic, malformed
// headers and truncated data all throw dive::Error naming the file and the problem.
#pragma once
#include <cstdint>
#include <string>

#include "lib/core/tensor.h"

namespace dive::io {

struct NpyInfo {
  DType dtype = DType::f32;
  Shape shape;                // () for a 0-d array
  uint64_t data_offset = 0;   // first data byte
  uint64_t data_bytes = 0;    // numel * element size
  int version_major = 1;
};

// Reads and validates the header (and that the file holds the whole array).
NpyInfo read_npy_info(const std::string& path);

// Reads the whole array into a fresh contiguous tensor on `dev`.
Tensor load_npy(const std::string& path, Device dev = kCPU);

// Writes `t` (gathered to a contiguous host copy when needed) as a v1.0 file (v2.0 when the header
// needs it), data aligned to 64 bytes as NumPy does, atomically (temporary + fsync + rename).
void save_npy(const std::string& path, const Tensor& t);

// Read-only memory mapping of an .npy file, for arrays too big to load (COCO train ims: 33 GB).
// Pages are read on first touch. Movable, not copyable; the mapping lives as long as the object.
class NpyMap {
 public:
  static NpyMap open(const std::string& path);
  NpyMap() = default;
  NpyMap(NpyMap&& o) noexcept;
  NpyMap& operator=(NpyMap&& o) noexcept;
  NpyMap(const NpyMap&) = delete;
  NpyMap& operator=(const NpyMap&) = delete;
  ~NpyMap();

  const std::string& path() const { return path_; }
  DType dtype() const { return info_.dtype; }
  const Shape& shape() const { return info_.shape; }
  int64_t rows() const;             // shape[0]; error for a 0-d array
  uint64_t row_bytes() const;       // bytes of one row (product of shape[1:] times element size)
  const void* data() const { return base_ + info_.data_offset; }
  const void* row(int64_t i) const; // pointer to row i, bounds-checked (error names the file)

 private:
  void release();
  std::string path_;
  NpyInfo info_;
  const char* base_ = nullptr;
  size_t map_bytes_ = 0;
};

// '<f4' etc. for a dtype; error for dtypes .npy files here do not carry (bf16, f16).
std::string npy_descr(DType dt);

}  // namespace dive::io
