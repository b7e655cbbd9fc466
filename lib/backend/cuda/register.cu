// Fills the CUDA kernel table (called by the dispatcher only after cuda_backend_init() found a device):
// one register_<family> per DIVE_FAMILY of lib/ops/op_list.def, each in lib/backend/cuda/<family>.cu.
// Every op has a CUDA kernel; a missing one is an error at registration.
#include "lib/backend/cuda/context.h"
#include "lib/ops/dispatch.h"

namespace dive {

namespace cuda {
#define DIVE_FAMILY(family) void register_##family(KernelTable& t);
#include "lib/ops/op_list.def"
#undef DIVE_FAMILY
}  // namespace cuda

void register_cuda_kernels(KernelTable& t) {
#define DIVE_FAMILY(family) cuda::register_##family(t);
#include "lib/ops/op_list.def"
#undef DIVE_FAMILY
  for (int i = 0; i < kNumOps; ++i)
    DIVE_CHECK(t.kernels[size_t(i)], "cuda backend: no kernel registered for op '", op_name(OpId(i)), "'");
}

}  // namespace dive
