// 2-D convolution (NCHW input, OIHW weight, groups = 1) and its backward rule.
#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, std::array<int64_t, 2> stride,
              std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation, int64_t groups) {
  std::vector<Tensor> ins{x, w};
  if (bias.defined()) ins.push_back(bias);
  check_same("conv2d", ins);
  DIVE_CHECK(groups == 1, "conv2d: only groups = 1 is supported, got groups = ", groups);
  DIVE_CHECK(x.dim() == 4, "conv2d: input must be 4-D [N, C, H, W], got ", x.str());
  DIVE_CHECK(w.dim() == 4, "conv2d: weight must be 4-D [O, C, kh, kw], got ", w.str());
  DIVE_CHECK(x.size(1) == w.size(1), "conv2d: input ", x.str(), " has ", x.size(1), " channels but weight ", w.str(),
             " expects ", w.size(1));
  DIVE_CHECK(stride[0] >= 1 && stride[1] >= 1, "conv2d: stride must be >= 1, got ", pair_str(stride));
  DIVE_CHECK(padding[0] >= 0 && padding[1] >= 0, "conv2d: padding must be >= 0, got ", pair_str(padding));
  DIVE_CHECK(dilation[0] >= 1 && dilation[1] >= 1, "conv2d: dilation must be >= 1, got ", pair_str(dilation));
  int64_t O = w.size(0);
  DIVE_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == O), "conv2d: bias must be [", O, "], got ",
             bias.str());
  Shape os{x.size(0), O, conv_out_size("conv2d", x, x.size(2), w.size(2), stride[0], padding[0], dilation[0]),
           conv_out_size("conv2d", x, x.size(3), w.size(3), stride[1], padding[1], dilation[1])};
  const Attrs at = ConvAttrs{stride, padding, dilation}.pack();
  Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  std::vector<Tensor> kin{xc, wc};
  if (bias.defined()) kin.push_back(bias.detach().contiguous());
  Tensor out = run1(OpId::conv2d, kin, os, x.dtype(), at);
  if (any_requires_grad(ins)) {
    Shape xs = x.shape(), ws = w.shape();
    bool need_x = x.requires_grad(), need_w = w.requires_grad(), has_b = bias.defined(),
         need_b = has_b && bias.requires_grad();
    record("conv2d", ins, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor gc = g[0].contiguous();
      std::vector<Tensor> r(has_b ? 3 : 2);
      if (need_x) r[0] = run1(OpId::conv2d_backward_data, {gc, wc}, xs, gc.dtype(), at);
      if (need_w) r[1] = run1(OpId::conv2d_backward_weights, {gc, xc}, ws, gc.dtype(), at);
      if (need_b) r[2] = sum(gc, {0, 2, 3});
      return r;
    });
  }
  return out;
}

}  // namespace dive
