// Op ids from the op table, the kernel calling convention, and the per-backend kernel tables.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/core/tensor.h"

namespace dive {

enum class OpId : uint16_t {
#define DIVE_OP(name, kind) name,
#include "lib/ops/op_list.def"
#undef DIVE_OP
};
enum class OpKind : uint8_t { Fwd, Bwd, Plain };

inline constexpr int kNumOps = 0
#define DIVE_OP(name, kind) +1
#include "lib/ops/op_list.def"
#undef DIVE_OP
    ;

const char* op_name(OpId op);
OpKind op_kind(OpId op);
// The DIVE_FAMILY the op is listed under (its file name in every layer).
const char* op_family(OpId op);

struct Attrs {
  std::vector<int64_t> i;
  std::vector<double> f;
};

struct KernelArgs {
  std::vector<Tensor> in;
  std::vector<Tensor> out;
  Attrs attrs;
};

using Kernel = void (*)(KernelArgs&);

struct KernelTable {
  std::string name;  // "ref", "cpu (oneDNN)", "cuda"
  std::array<Kernel, kNumOps> kernels{};
};

// The table for a device kind: ref always; cpu falls back to ref when built without oneDNN.
const KernelTable& kernel_table(DeviceKind kind);
// Whether a backend of its own is compiled in (and, for CUDA, a device is present).
bool backend_available(DeviceKind kind);
// Runs the kernel for `op` on the device of args.out[0] (or args.in[0] when there are no outputs).
void dispatch(OpId op, KernelArgs& args);

// DIVE_PROFILE (see dispatch.cpp): forget what was timed so far, e.g. after a warm-up step.
void reset_op_profile();

// Waits until all work queued on device `d` has finished (no-op on the host backends, which are
// synchronous). For timings; reading a tensor back (item, to(kCPU)) synchronises by itself.
void synchronize(Device d);

// Memory held by tensors on device `d` (the CUDA caching allocator's statistics; zeros on the host).
struct DeviceMemory {
  uint64_t allocated = 0, peak_allocated = 0, reserved = 0, peak_reserved = 0;
};
DeviceMemory device_memory(Device d);

// Counts, per op, how often it was dispatched (read by the op-coverage test).
const std::array<uint64_t, kNumOps>& dispatch_counts();

// Backend registration hooks (called once, lazily, from kernel_table()), defined by the backends.
void register_ref_kernels(KernelTable& t);
#if DIVE_HAVE_ONEDNN
void register_cpu_kernels(KernelTable& t);
#endif
#if DIVE_HAVE_CUDA
void register_cuda_kernels(KernelTable& t);
bool cuda_backend_init();  // false when no device is present
void cuda_synchronize(int index);
DeviceMemory cuda_device_memory(int index);
#endif

// lib/ops/core_hooks.cpp: registers lib/core's hooks at start-up; the dispatcher calls it so that every
// program that runs a kernel links that file.
bool link_core_hooks();

}  // namespace dive
