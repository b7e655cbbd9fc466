// Reference cat and pad: copies into views of the output through the reference copy and fill kernels.
#include "lib/backend/view_copies.h"

namespace dive::ref {

namespace {

Kernel ref_kernel(OpId op) { return kernel_table(DeviceKind::ref).kernels[int(op)]; }

}  // namespace

void register_cat_pad(KernelTable& t) {
  t.kernels[int(OpId::cat)] = [](KernelArgs& a) { cat_by_copies(a, ref_kernel(OpId::copy)); };
  t.kernels[int(OpId::pad)] = [](KernelArgs& a) { pad_by_copies(a, ref_kernel(OpId::copy), ref_kernel(OpId::fill)); };
}

}  // namespace dive::ref
