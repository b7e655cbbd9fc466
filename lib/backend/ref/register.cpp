// Fills the reference kernel table: one register_<family> per DIVE_FAMILY of lib/ops/op_list.def, each in
// lib/backend/ref/<family>.cpp (the reference backend implements every op).
#include "lib/ops/dispatch.h"

namespace dive {
namespace ref {
#define DIVE_FAMILY(family) void register_##family(KernelTable& t);
#include "lib/ops/op_list.def"
#undef DIVE_FAMILY
}  // namespace ref

void register_ref_kernels(KernelTable& t) {
#define DIVE_FAMILY(family) ref::register_##family(t);
#include "lib/ops/op_list.def"
#undef DIVE_FAMILY
  for (int i = 0; i < kNumOps; ++i)
    DIVE_CHECK(t.kernels[size_t(i)], "ref backend: no kernel registered for op '", op_name(OpId(i)), "'");
}

}  // namespace dive
