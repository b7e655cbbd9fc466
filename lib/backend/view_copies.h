// cat and pad of the host backends (ref, cpu): copies into views of the output through the backend's own
// copy and fill kernels, so the strided copy loop exists once per backend.
#pragma once
#include "lib/ops/attrs.h"

namespace dive {

inline void cat_by_copies(KernelArgs& a, Kernel copy) {
  const Tensor& O = a.out[0];
  const int64_t ax = a.attrs.i[0];
  int64_t start = 0;
  for (const auto& x : a.in) {
    KernelArgs c{{x}, {make_view(O, x.shape(), O.strides(), O.offset() + start * O.strides()[ax])}, {}};
    copy(c);
    start += x.size(ax);
  }
}

inline void pad_by_copies(KernelArgs& a, Kernel copy, Kernel fill) {
  const Tensor &X = a.in[0], &O = a.out[0];
  const PadAttrs p = PadAttrs::unpack(a.attrs);
  KernelArgs f{{}, {O}, {{}, {p.value}}};
  fill(f);
  int64_t off = O.offset();
  for (int64_t d = 0; d < X.dim(); ++d) off += p.before(d) * O.strides()[d];
  KernelArgs c{{X}, {make_view(O, X.shape(), O.strides(), off)}, {}};
  copy(c);
}

}  // namespace dive
