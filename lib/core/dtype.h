// Element types. f32 is the compute type, f64 the reference/gradcheck type; bf16/f16 are storage only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

#include "lib/core/error.h"

namespace dive {

enum class DType : uint8_t { f32, f64, i64, i32, u8, boolean, bf16, f16 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f64: case DType::i64: return 8;
    case DType::f32: case DType::i32: return 4;
    case DType::bf16: case DType::f16: return 2;
    case DType::u8: case DType::boolean: return 1;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::i32: return "i32";
    case DType::u8: return "u8";
    case DType::boolean: return "bool";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
  }
  return "?";
}

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
inline bool is_index(DType t) { return t == DType::i64 || t == DType::i32; }

// Maps a C++ type to its DType.
template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::f64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::i64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::i32; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::u8; };

// bf16 / f16 <-> f32 conversion (round to nearest even), for storage types.
float bf16_to_float(uint16_t v);
uint16_t float_to_bf16(float f);
float f16_to_float(uint16_t v);
uint16_t float_to_f16(float f);

}  // namespace dive

// Calls BODY with `scalar_t` bound to the C++ type of a floating dtype (f32/f64).
#define DIVE_DISPATCH_FLOAT(DT, NAME, ...)                                       \
  [&] {                                                                            \
    switch (DT) {                                                                  \
      case ::dive::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }   \
      case ::dive::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }  \
      default: DIVE_FAIL(NAME, ": expected dtype f32 or f64, got ", ::dive::dtype_name(DT)); \
    }                                                                              \
  }()

// As above, also accepting i64, i32, u8 and bool (bool is stored as uint8_t).
#define DIVE_DISPATCH_ALL(DT, NAME, ...)                                           \
  [&] {                                                                              \
    switch (DT) {                                                                    \
      case ::dive::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }     \
      case ::dive::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }    \
      case ::dive::DType::i64: { using scalar_t = int64_t; return __VA_ARGS__(); }   \
      case ::dive::DType::i32: { using scalar_t = int32_t; return __VA_ARGS__(); }   \
      case ::dive::DType::u8:                                                        \
      case ::dive::DType::boolean: { using scalar_t = uint8_t; return __VA_ARGS__(); } \
      default: DIVE_FAIL(NAME, ": dtype ", ::dive::dtype_name(DT), " is storage-only; convert to f32 first"); \
    }                                                                                \
  }()

// Calls BODY with `index_t` bound to i64 or i32.
#define DIVE_DISPATCH_INDEX(DT, NAME, ...)                                         \
  [&] {                                                                              \
    switch (DT) {                                                                    \
      case ::dive::DType::i64: { using index_t = int64_t; return __VA_ARGS__(); }    \
      case ::dive::DType::i32: { using index_t = int32_t; return __VA_ARGS__(); }    \
      default: DIVE_FAIL(NAME, ": expected index dtype i64 or i32, got ", ::dive::dtype_name(DT)); \
    }                                                                                \
  }()
