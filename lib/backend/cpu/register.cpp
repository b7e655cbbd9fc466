// Fills the CPU (oneDNN + OpenMP) kernel table: one register_<family> per DIVE_FAMILY of
// lib/ops/op_list.def, each in lib/backend/cpu/<family>.cpp.
#include <array>

#include "lib/backend/cpu/kernels.h"

namespace dive {

namespace {

// Ops the CPU backend deliberately takes from the reference backend, each with its reason.
// None at present: every op in lib/ops/op_list.def has a native CPU kernel (a oneDNN primitive or an
// OpenMP loop). Add an entry here, with a comment saying why, only for an op where a native kernel
// brings no gain (e.g. rarely used and cheap).
constexpr std::array<OpId, 0> kInheritedFromRef{};

}  // namespace

namespace cpu {
#define DIVE_FAMILY(family) void register_##family(KernelTable& t);
#include "lib/ops/op_list.def"
#undef DIVE_FAMILY
void run_reference(OpId op, KernelArgs& a) { kernel_table(DeviceKind::ref).kernels[int(op)](a); }
}  // namespace cpu

void register_cpu_kernels(KernelTable& t) {
#define DIVE_FAMILY(family) cpu::register_##family(t);
#include "lib/ops/op_list.def"
#undef DIVE_FAMILY
  if (!kInheritedFromRef.empty()) {
    KernelTable ref;
    register_ref_kernels(ref);
    for (OpId op : kInheritedFromRef) t.kernels[int(op)] = ref.kernels[int(op)];
  }
  for (int i = 0; i < kNumOps; ++i)
    DIVE_CHECK(t.kernels[size_t(i)], "cpu backend: no kernel registered for op '", op_name(OpId(i)),
               "' (implement it or list it in kInheritedFromRef)");
}

}  // namespace dive
