// Where a tensor lives and which backend runs its ops.
// `ref` and `cpu` both use host memory: `ref` runs the plain-loop reference kernels (the oracle),
// `cpu` the oneDNN/OpenMP kernels. `cuda:N` is GPU N.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

namespace dive {

enum class DeviceKind : uint8_t { ref, cpu, cuda };
inline constexpr int kNumDeviceKinds = 3;

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  bool is_host() const { return kind != DeviceKind::cuda; }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
  // "ref", "cpu", "cuda", "cuda:1". Throws dive::Error naming the text on anything else.
  static Device parse(const std::string& text);
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

inline constexpr Device kRef{DeviceKind::ref, 0};
inline constexpr Device kCPU{DeviceKind::cpu, 0};
inline constexpr Device kCUDA{DeviceKind::cuda, 0};

}  // namespace dive
