// Caching device allocator: per-device free lists keyed by size class, statistics, empty_cache().
#include "lib/backend/cuda/allocator.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "lib/backend/cuda/context.h"

namespace dive::cuda {

namespace {

constexpr size_t kSmallStep = 512;        // granularity below kSmallLimit
constexpr size_t kSmallLimit = 1u << 20;  // 1 MiB

struct DeviceCache {
  std::unordered_map<size_t, std::vector<void*>> free;  // size class -> cached blocks
  std::unordered_map<void*, size_t> live;               // block -> its size class
  MemoryStats stats;
};

struct State {
  std::mutex mu;
  std::vector<DeviceCache> dev;  // indexed by device; grown on first use
  DeviceCache& at(int index) {
    if (size_t(index) >= dev.size()) dev.resize(size_t(index) + 1);
    return dev[size_t(index)];
  }
};

// Leaked on purpose: tensors with static lifetime may be freed after other statics are destroyed.
State& state() {
  static State* s = new State;
  return *s;
}

// Frees every cached block of one device (caller holds the lock).
void release_cached(int index, DeviceCache& c) {
  if (c.free.empty()) return;
  DeviceGuard g(index);
  CUDA_CHECK(cudaDeviceSynchronize());
  for (auto& [cls, blocks] : c.free) {
    for (void* p : blocks) {
      CUDA_CHECK(cudaFree(p));
      ++c.stats.num_cuda_free;
      c.stats.reserved_bytes -= cls;
    }
  }
  c.free.clear();
}

}  // namespace

size_t size_class(size_t bytes) {
  if (bytes <= kSmallLimit) return std::max<size_t>(1, (bytes + kSmallStep - 1) / kSmallStep) * kSmallStep;
  // Four classes per power of two: 2^k, 1.25*2^k, 1.5*2^k, 1.75*2^k.
  size_t p = 1;
  while (p * 2 <= bytes) p *= 2;
  size_t step = p / 4;
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t bytes, Device d) {
  if (bytes == 0) return nullptr;
  check_device(d);
  size_t cls = size_class(bytes);
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  DeviceCache& c = s.at(d.index);
  ++c.stats.num_allocs;
  void* p = nullptr;
  auto it = c.free.find(cls);
  if (it != c.free.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    ++c.stats.num_cache_hits;
  } else {
    DeviceGuard g(d.index);
    cudaError_t e = cudaMalloc(&p, cls);
    if (e == cudaErrorMemoryAllocation) {  // give the cache back to the driver and try once more
      (void)cudaGetLastError();
      release_cached(d.index, c);
      e = cudaMalloc(&p, cls);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      DIVE_FAIL("cuda allocation of ", bytes, " bytes on ", d.str(), " failed: ", cudaGetErrorString(e),
                " (", c.stats.allocated_bytes, " bytes in use by tensors, ", c.stats.reserved_bytes,
                " reserved)");
    }
    ++c.stats.num_cuda_malloc;
    c.stats.reserved_bytes += cls;
    c.stats.peak_reserved_bytes = std::max(c.stats.peak_reserved_bytes, c.stats.reserved_bytes);
  }
  c.live[p] = cls;
  c.stats.allocated_bytes += cls;
  c.stats.requested_bytes += bytes;
  c.stats.peak_allocated_bytes = std::max(c.stats.peak_allocated_bytes, c.stats.allocated_bytes);
  return p;
}

void CachingAllocator::deallocate(void* p, size_t bytes, Device d) {
  if (!p) return;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (d.index < 0 || size_t(d.index) >= s.dev.size()) return;  // not ours: nothing sane to do
  DeviceCache& c = s.dev[size_t(d.index)];
  auto it = c.live.find(p);
  if (it == c.live.end()) return;
  size_t cls = it->second;
  c.live.erase(it);
  c.stats.allocated_bytes -= cls;
  c.stats.requested_bytes -= bytes;
  // Stream-ordered reuse: all work on this block was queued on the device's single stream, so the next
  // owner's work (queued later on the same stream) runs after it.
  c.free[cls].push_back(p);
}

CachingAllocator& caching_allocator() {
  static CachingAllocator* a = new CachingAllocator;  // leaked: see state()
  return *a;
}

MemoryStats memory_stats(int index) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (index < 0 || size_t(index) >= s.dev.size()) return {};
  return s.dev[size_t(index)].stats;
}

void empty_cache() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  for (size_t i = 0; i < s.dev.size(); ++i) release_cached(int(i), s.dev[i]);
}

}  // namespace dive::cuda
