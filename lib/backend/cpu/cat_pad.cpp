// CPU cat and pad: strided copies into views of the output (copy_into of copy.cpp).
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/ops/attrs.h"

namespace dive::cpu {

namespace {

void cat(KernelArgs& a) {
  const Tensor& O = a.out[0];
  int64_t ax = a.attrs.i[0], start = 0;
  for (const auto& x : a.in) {
    copy_into(x, make_view(O, x.shape(), O.strides(), O.offset() + start * O.strides()[ax]));
    start += x.size(ax);
  }
}

void pad(KernelArgs& a) {
  const Tensor &X = a.in[0], &O = a.out[0];
  const PadAttrs p = PadAttrs::unpack(a.attrs);
  KernelArgs f{{}, {O}, {{}, {p.value}}};
  fill(f);
  int64_t off = O.offset();
  for (int64_t d = 0; d < X.dim(); ++d) off += p.before(d) * O.strides()[d];
  copy_into(X, make_view(O, X.shape(), O.strides(), off));
}

}  // namespace

void register_cat_pad(KernelTable& t) {
  t.kernels[int(OpId::cat)] = cat;
  t.kernels[int(OpId::pad)] = pad;
}

}  // namespace dive::cpu
