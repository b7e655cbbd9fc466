// Raw memory blocks and the per-device allocators that own them.
#pragma once
#include <cstddef>
#include <memory>

#include "lib/core/device.h"

namespace dive {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes, Device d) = 0;
  virtual void deallocate(void* p, size_t bytes, Device d) = 0;
};

// Copies bytes between two devices (at least one of them a GPU); registered by the CUDA backend.
using DeviceCopyFn = void (*)(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);

// Host allocator (64-byte aligned) serves ref and cpu; the CUDA backend registers its caching allocator.
Allocator& allocator_for(Device d);
void register_allocator(DeviceKind kind, Allocator* a);
void register_device_copy(DeviceCopyFn fn);
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);

class Storage {
 public:
  Storage(size_t bytes, Device d);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return dev_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  Device dev_;
};

}  // namespace dive
