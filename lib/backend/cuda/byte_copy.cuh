// Byte-generic copy helpers shared by indexing.cu and cat_pad.cu: word types of 1..16 bytes, the widest
// word that divides every byte count and address of a copy, and the operands' device check.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "lib/backend/cuda/launch.cuh"

namespace dive::cuda {
namespace {

// Calls f(W{}) with W the unsigned word type of `bytes` (1, 2, 4, 8 or 16).
template <class F>
void with_word(int64_t bytes, const char* op, F&& f) {
  switch (bytes) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    case 8: f(uint64_t{}); break;
    case 16: f(uint4{}); break;
    default: DIVE_FAIL(op, ": unsupported word size ", bytes);
  }
}

// Largest power of two <= 16 dividing every value in `vs` (byte counts and addresses).
inline int common_word(std::initializer_list<uint64_t> vs) {
  uint64_t m = 0;
  for (uint64_t v : vs) m |= v;
  int w = 16;
  while (w > 1 && (m & uint64_t(w - 1))) w /= 2;
  return w;
}

inline uint64_t addr(const void* p) { return uint64_t(reinterpret_cast<uintptr_t>(p)); }


inline void check_device_of(const char* op, const Tensor& o, const std::vector<Tensor>& ins) {
  for (const Tensor& t : ins)
    DIVE_CHECK(t.device() == o.device(), op, ": operand ", t.str(), " is not on the output's device ",
               o.device().str());
}

}  // namespace
}  // namespace dive::cuda
