// Fills the CPU (oneDNN + OpenMP) kernel table.
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
void run_reference(OpId op, KernelArgs& a) { kernel_table(DeviceKind::ref).kernels[int(op)](a); }
}  // namespace cpu

void register_cpu_kernels(KernelTable& t) {
  if (!kInheritedFromRef.empty()) {
    KernelTable ref;
    register_ref_kernels(ref);
    for (OpId op : kInheritedFromRef) t.kernels[int(op)] = ref.kernels[int(op)];
  }
  t.kernels[int(OpId::copy)] = cpu::copy;
  t.kernels[int(OpId::fill)] = cpu::fill;
  t.kernels[int(OpId::cat)] = cpu::cat;
  t.kernels[int(OpId::pad)] = cpu::pad;
  cpu::register_elementwise(t);
  cpu::register_eltwise(t);
  cpu::register_random(t);
  cpu::register_matmul(t);
  cpu::register_softmax(t);
  cpu::register_layer_norm(t);
  cpu::register_batch_norm(t);
  cpu::register_reduce(t);
  cpu::register_indexing(t);
  cpu::register_rnn(t);
  cpu::register_similarity(t);
  cpu::register_conv(t);
  cpu::register_pool(t);
  for (int i = 0; i < kNumOps; ++i)
    DIVE_CHECK(t.kernels[size_t(i)], "cpu backend: no kernel registered for op '", op_name(OpId(i)),
               "' (implement it or list it in kInheritedFromRef)");
}

}  // namespace dive
