#include "lib/core/storage.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "lib/core/error.h"
#include "lib/core/hooks.h"

namespace dive {

std::string Device::str() const {
  switch (kind) {
    case DeviceKind::ref: return "ref";
    case DeviceKind::cpu: return "cpu";
    case DeviceKind::cuda: return "cuda:" + std::to_string(index);
  }
  return "?";
}

Device Device::parse(const std::string& text) {
  if (text == "ref") return kRef;
  if (text == "cpu") return kCPU;
  if (text == "cuda") return kCUDA;
  if (text.rfind("cuda:", 0) == 0) {
    std::string num = text.substr(5);
    bool digits = !num.empty() && num.size() < 4 &&
                  num.find_first_not_of("0123456789") == std::string::npos;
    if (digits) return Device{DeviceKind::cuda, std::stoi(num)};
  }
  DIVE_FAIL("device '", text, "': expected ref, cpu, cuda or cuda:N");
}

namespace {

class HostAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes, Device) override {
    if (bytes == 0) return nullptr;
    size_t rounded = (bytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
    void* p = std::aligned_alloc(64, rounded);
    if (!p) DIVE_FAIL("host allocation of ", bytes, " bytes failed (out of memory)");
    return p;
  }
  void deallocate(void* p, size_t, Device) override { std::free(p); }
};

HostAllocator g_host;
Allocator* g_allocators[kNumDeviceKinds] = {&g_host, &g_host, nullptr};
DeviceCopyFn g_device_copy = nullptr;

}  // namespace

Allocator& allocator_for(Device d) {
  Allocator* a = g_allocators[int(d.kind)];
  if (!a && d.kind == DeviceKind::cuda) {
    core_hooks().start_backend(DeviceKind::cuda);  // the CUDA backend registers its allocator when it starts
    a = g_allocators[int(d.kind)];
  }
  DIVE_CHECK(a, "device ", d.str(), ": not available (dive was built without CUDA, or no GPU/driver is present)");
  return *a;
}

void register_allocator(DeviceKind kind, Allocator* a) { g_allocators[int(kind)] = a; }
void register_device_copy(DeviceCopyFn fn) { g_device_copy = fn; }

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev.is_host() && src_dev.is_host()) {
    std::memcpy(dst, src, bytes);
    return;
  }
  DIVE_CHECK(g_device_copy, "copy ", src_dev.str(), " -> ", dst_dev.str(), ": CUDA backend not available");
  g_device_copy(dst, dst_dev, src, src_dev, bytes);
}

Storage::Storage(size_t bytes, Device d) : bytes_(bytes), dev_(d) {
  ptr_ = allocator_for(d).allocate(bytes, d);
}

Storage::~Storage() {
  if (ptr_) allocator_for(dev_).deallocate(ptr_, bytes_, dev_);
}

}  // namespace dive
