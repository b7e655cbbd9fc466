#include "lib/ops/dispatch.h"

#include <mutex>

namespace dive {

namespace {

const char* const kOpNames[] = {
#define DIVE_OP(name, kind) #name,
#include "lib/ops/op_list.def"
#undef DIVE_OP
};
const OpKind kOpKinds[] = {
#define DIVE_OP(name, kind) OpKind::kind,
#include "lib/ops/op_list.def"
#undef DIVE_OP
};

struct Registry {
  KernelTable tables[kNumDeviceKinds];
  bool own[kNumDeviceKinds] = {true, false, false};
  Registry() {
    tables[int(DeviceKind::ref)].name = "ref";
    register_ref_kernels(tables[int(DeviceKind::ref)]);
#if DIVE_HAVE_ONEDNN
    tables[int(DeviceKind::cpu)].name = "cpu";
    register_cpu_kernels(tables[int(DeviceKind::cpu)]);
    own[int(DeviceKind::cpu)] = true;
#else
    tables[int(DeviceKind::cpu)] = tables[int(DeviceKind::ref)];
    tables[int(DeviceKind::cpu)].name = "cpu (reference kernels: built without oneDNN)";
#endif
    tables[int(DeviceKind::cuda)].name = "cuda";
#if DIVE_HAVE_CUDA
    if (cuda_backend_init()) {
      register_cuda_kernels(tables[int(DeviceKind::cuda)]);
      own[int(DeviceKind::cuda)] = true;
    }
#endif
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

std::array<uint64_t, kNumOps> g_counts{};

}  // namespace

const char* op_name(OpId op) { return kOpNames[int(op)]; }
OpKind op_kind(OpId op) { return kOpKinds[int(op)]; }

const KernelTable& kernel_table(DeviceKind kind) { return registry().tables[int(kind)]; }
bool backend_available(DeviceKind kind) { return registry().own[int(kind)]; }
const std::array<uint64_t, kNumOps>& dispatch_counts() { return g_counts; }

void dispatch(OpId op, KernelArgs& args) {
  const Tensor& anchor = args.out.empty() ? args.in.at(0) : args.out[0];
  Device dev = anchor.device();
  for (const auto& t : args.in) {
    DIVE_CHECK(!t.defined() || t.device() == dev, op_name(op), ": input on ", t.device().str(),
               " but the op runs on ", dev.str(), "; move tensors with .to(device) first");
  }
  if (dev.kind == DeviceKind::cuda) {
    DIVE_CHECK(backend_available(DeviceKind::cuda), op_name(op), ": no CUDA device available");
  }
  const KernelTable& table = kernel_table(dev.kind);
  Kernel k = table.kernels[int(op)];
  DIVE_CHECK(k, op_name(op), ": not implemented on backend '", table.name, "'");
  ++g_counts[int(op)];
  k(args);
}

}  // namespace dive
