// CPU cat and pad: strided copies into views of the output with this backend's copy and fill.
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/view_copies.h"

namespace dive::cpu {

void register_cat_pad(KernelTable& t) {
  t.kernels[int(OpId::cat)] = [](KernelArgs& a) { cat_by_copies(a, copy); };
  t.kernels[int(OpId::pad)] = [](KernelArgs& a) { pad_by_copies(a, copy, fill); };
}

}  // namespace dive::cpu
