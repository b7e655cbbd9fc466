// Caching device allocator: size-class free lists per device, stream-ordered reuse, statistics.
#pragma once
#include <cstddef>
#include <cstdint>

#include "lib/core/storage.h"

namespace dive::cuda {

struct MemoryStats {
  uint64_t allocated_bytes = 0;       // bytes held by live tensors (size-class rounded)
  uint64_t peak_allocated_bytes = 0;  // high-water mark of allocated_bytes
  uint64_t reserved_bytes = 0;        // allocated + cached (everything obtained from cudaMalloc)
  uint64_t peak_reserved_bytes = 0;
  uint64_t requested_bytes = 0;       // bytes asked for by live tensors (before rounding)
  uint64_t num_allocs = 0;            // allocate() calls with a non-zero size
  uint64_t num_cache_hits = 0;        // ... served from a free list
  uint64_t num_cuda_malloc = 0;       // cudaMalloc calls
  uint64_t num_cuda_free = 0;         // cudaFree calls (empty_cache, retry after out-of-memory)
};

// The backend's allocator (registered for DeviceKind::cuda by cuda_backend_init()).
//
// Stream-ordered: each device has one stream and every kernel runs on it, so a block freed on the host
// can be handed to the next allocation at once: the new user's work is queued after the old user's.
// Sizes are rounded up to classes (512 B granularity below 1 MiB; above, 4 classes per power of two,
// at most 25% slack) and a freed block goes to the free list of its class on its device.
class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes, Device d) override;
  void deallocate(void* p, size_t bytes, Device d) override;  // never throws
};

CachingAllocator& caching_allocator();

// Statistics of device `index` (all zeros for a device never used).
MemoryStats memory_stats(int index = 0);
// Returns every cached (free) block of every device to the driver (synchronises those devices).
void empty_cache();

// The size class a request of `bytes` is rounded up to (exposed for tests).
size_t size_class(size_t bytes);

}  // namespace dive::cuda
