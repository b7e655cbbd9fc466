// Reference cat and pad: copies into views of the output through the reference copy and fill kernels.
#include "lib/backend/ref/ref_util.h"
#include "lib/ops/attrs.h"

namespace dive::ref {

namespace {

void copy_into(const Tensor& src, const Tensor& dst) {
  KernelArgs c{{src}, {dst}, {}};
  kernel_table(DeviceKind::ref).kernels[int(OpId::copy)](c);
}

void cat(KernelArgs& a) {
  const Tensor& O = a.out[0];
  int64_t ax = a.attrs.i[0], start = 0;
  for (const auto& x : a.in) {
    Shape st = O.strides();
    Tensor dst = make_view(O, x.shape(), st, O.offset() + start * st[ax]);
    copy_into(x, dst);
    start += x.size(ax);
  }
}

void pad(KernelArgs& a) {
  const Tensor &X = a.in[0], &O = a.out[0];
  const PadAttrs p = PadAttrs::unpack(a.attrs);
  KernelArgs f{{}, {O}, {{}, {p.value}}};
  kernel_table(DeviceKind::ref).kernels[int(OpId::fill)](f);
  int64_t off = O.offset();
  for (int64_t d = 0; d < X.dim(); ++d) off += p.before(d) * O.strides()[d];
  copy_into(X, make_view(O, X.shape(), O.strides(), off));
}

}  // namespace

void register_cat_pad(KernelTable& t) {
  t.kernels[int(OpId::cat)] = cat;
  t.kernels[int(OpId::pad)] = pad;
}

}  // namespace dive::ref
