// Device discovery, per-device streams and cuBLAS handles, backend initialisation, device copies.
#include "lib/backend/cuda/context.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "lib/backend/cuda/allocator.h"
#include "lib/ops/dispatch.h"

namespace dive::cuda {

namespace detail {

void throw_cuda(cudaError_t e, const char* expr, const char* file, int line) {
  dive::detail::throw_error(file, line,
                            dive::detail::cat("CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e),
                                              ") in ", expr));
}

void throw_cublas(cublasStatus_t s, const char* expr, const char* file, int line) {
  dive::detail::throw_error(file, line,
                            dive::detail::cat("cuBLAS error ", cublasGetStatusName(s), " (",
                                              cublasGetStatusString(s), ") in ", expr));
}

}  // namespace detail

namespace {

struct PerDevice {
  std::once_flag stream_once, cublas_once;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
};

struct Devices {
  int count = 0;
  // Created once and never destroyed: streams and handles must outlive static tensors, and the CUDA
  // runtime may already be shut down when static destructors run.
  std::vector<PerDevice>* per = nullptr;
};

const Devices& devices() noexcept {
  static const Devices d = [] {
    Devices r;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {  // no driver / no device / insufficient driver: "no device"
      (void)cudaGetLastError();
      n = 0;
    }
    r.count = n;
    if (n > 0) r.per = new std::vector<PerDevice>(size_t(n));
    return r;
  }();
  return d;
}

PerDevice& per_device(int index) {
  const Devices& d = devices();
  DIVE_CHECK(index >= 0 && index < d.count, "cuda:", index, ": no such CUDA device (", d.count,
             " present)");
  return (*d.per)[size_t(index)];
}

std::atomic<bool> g_allow_tf32{false};

cublasMath_t math_mode() { return g_allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH; }

}  // namespace

bool available() noexcept { return devices().count > 0; }
int device_count() noexcept { return devices().count; }

void check_device(Device d) {
  DIVE_CHECK(d.kind == DeviceKind::cuda, "expected a CUDA device, got ", d.str());
  DIVE_CHECK(d.index >= 0 && d.index < device_count(), "device ", d.str(), ": only ", device_count(),
             " CUDA device(s) present");
}

DeviceGuard::DeviceGuard(int index) {
  CUDA_CHECK(cudaGetDevice(&prev_));
  if (prev_ != index) CUDA_CHECK(cudaSetDevice(index));
}

DeviceGuard::~DeviceGuard() {
  int cur = -1;
  if (cudaGetDevice(&cur) == cudaSuccess && cur != prev_ && prev_ >= 0) (void)cudaSetDevice(prev_);
}

cudaStream_t stream(int index) {
  PerDevice& p = per_device(index);
  std::call_once(p.stream_once, [&] {
    DeviceGuard g(index);
    CUDA_CHECK(cudaStreamCreateWithFlags(&p.stream, cudaStreamNonBlocking));
  });
  return p.stream;
}

cudaStream_t current_stream() {
  int cur = 0;
  CUDA_CHECK(cudaGetDevice(&cur));
  return stream(cur);
}

cublasHandle_t cublas_handle(int index) {
  PerDevice& p = per_device(index);
  std::call_once(p.cublas_once, [&] {
    DeviceGuard g(index);
    CUBLAS_CHECK(cublasCreate(&p.cublas));
    CUBLAS_CHECK(cublasSetStream(p.cublas, stream(index)));
    CUBLAS_CHECK(cublasSetMathMode(p.cublas, math_mode()));
  });
  return p.cublas;
}

void set_allow_tf32(bool on) {
  g_allow_tf32 = on;
  // Handles already created take the new mode now; later ones at creation.
  const Devices& d = devices();
  for (int i = 0; i < d.count; ++i) {
    PerDevice& p = (*d.per)[size_t(i)];
    if (p.cublas) CUBLAS_CHECK(cublasSetMathMode(p.cublas, math_mode()));
  }
}

bool allow_tf32() { return g_allow_tf32; }

namespace {
std::atomic<bool> g_deterministic{true};
}
void set_deterministic(bool on) { g_deterministic = on; }
bool deterministic() { return g_deterministic; }

void synchronize(int index) {
  DeviceGuard g(index);
  CUDA_CHECK(cudaStreamSynchronize(stream(index)));
}

namespace {

// Host -> device copies of at least kStageMin bytes go through pinned staging buffers: the host copies
// into a free buffer and the DMA from it is queued on the stream, so the call never waits for the
// stream (a pageable cudaMemcpyAsync may synchronise with it) and the caller may reuse its source at
// once. A buffer is free again when the event recorded after its DMA has completed. At most
// kStageCap bytes are pinned per device; beyond that (or for small copies) the plain pageable path.
constexpr size_t kStageMin = size_t(1) << 20, kStageCap = size_t(1) << 30;

struct StagingBuffer {
  void* host = nullptr;
  size_t bytes = 0;
  cudaEvent_t done = nullptr;
};

struct StagingPool {
  std::mutex mu;
  std::vector<StagingBuffer> buffers;
  size_t pinned = 0;
};

StagingPool& staging_pool(int index) {
  static std::vector<StagingPool>* pools = new std::vector<StagingPool>(size_t(std::max(devices().count, 1)));
  return (*pools)[size_t(index)];
}

void host_to_device(void* dst, const void* src, size_t bytes, int dev) {
  DeviceGuard g(dev);
  cudaStream_t s = stream(dev);
  if (bytes >= kStageMin) {
    StagingPool& pool = staging_pool(dev);
    std::lock_guard<std::mutex> lock(pool.mu);
    StagingBuffer* pick = nullptr;
    for (StagingBuffer& b : pool.buffers)  // the smallest free buffer that fits
      if (b.bytes >= bytes && (!pick || b.bytes < pick->bytes) && cudaEventQuery(b.done) == cudaSuccess) pick = &b;
    (void)cudaGetLastError();  // cudaEventQuery reports cudaErrorNotReady for busy buffers
    if (!pick && pool.pinned + bytes <= kStageCap) {
      StagingBuffer b;
      b.bytes = (bytes + kStageMin - 1) / kStageMin * kStageMin;
      if (cudaHostAlloc(&b.host, b.bytes, cudaHostAllocDefault) == cudaSuccess) {
        CUDA_CHECK(cudaEventCreateWithFlags(&b.done, cudaEventDisableTiming));
        pool.pinned += b.bytes;
        pool.buffers.push_back(b);
        pick = &pool.buffers.back();
      } else {
        (void)cudaGetLastError();  // no pinned memory to be had: the pageable path below
      }
    }
    if (pick) {
      std::memcpy(pick->host, src, bytes);
      CUDA_CHECK(cudaMemcpyAsync(dst, pick->host, bytes, cudaMemcpyHostToDevice, s));
      CUDA_CHECK(cudaEventRecord(pick->done, s));
      return;
    }
  }
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
}

// Copies between host and device or between devices. Host -> device: host_to_device (never waits).
// Host destinations are synchronised before returning.
void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev.is_host()) {  // device -> host
    check_device(src_dev);
    DeviceGuard g(src_dev.index);
    cudaStream_t s = stream(src_dev.index);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    return;
  }
  check_device(dst_dev);
  if (src_dev.is_host()) {  // host -> device
    host_to_device(dst, src, bytes, dst_dev.index);
    return;
  }
  check_device(src_dev);
  if (src_dev.index == dst_dev.index) {  // same device
    DeviceGuard g(dst_dev.index);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream(dst_dev.index)));
    return;
  }
  // Between devices: the copy runs on the source stream, after the destination stream's pending work
  // (which may still use a reused block), and the destination stream waits for it.
  cudaStream_t ss = stream(src_dev.index), ds = stream(dst_dev.index);
  cudaEvent_t dst_ready, copied;
  {
    DeviceGuard g(dst_dev.index);
    CUDA_CHECK(cudaEventCreateWithFlags(&dst_ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(dst_ready, ds));
  }
  DeviceGuard g(src_dev.index);
  CUDA_CHECK(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));
  CUDA_CHECK(cudaStreamWaitEvent(ss, dst_ready, 0));
  CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_dev.index, src, src_dev.index, bytes, ss));
  CUDA_CHECK(cudaEventRecord(copied, ss));
  CUDA_CHECK(cudaStreamWaitEvent(ds, copied, 0));
  CUDA_CHECK(cudaEventDestroy(dst_ready));  // released once the recorded work completes
  CUDA_CHECK(cudaEventDestroy(copied));
}

}  // namespace

}  // namespace dive::cuda

namespace dive {

bool cuda_backend_init() {
  if (!cuda::available()) return false;
  register_allocator(DeviceKind::cuda, &cuda::caching_allocator());
  register_device_copy(&cuda::device_copy);
  return true;
}

void cuda_synchronize(int index) { cuda::synchronize(index); }

DeviceMemory cuda_device_memory(int index) {
  cuda::MemoryStats s = cuda::memory_stats(index);
  return {s.allocated_bytes, s.peak_allocated_bytes, s.reserved_bytes, s.peak_reserved_bytes};
}

}  // namespace dive
