#include "lib/ops/op_util.h"

#include <algorithm>

namespace dive::ops {

std::vector<Tensor> run(OpId op, std::vector<Tensor> in, const std::vector<std::pair<Shape, DType>>& outs,
                        Attrs attrs) {
  Device dev = in.at(0).device();
  KernelArgs args;
  args.in = std::move(in);
  for (const auto& [shape, dt] : outs) args.out.push_back(Tensor::empty(shape, dt, dev));
  args.attrs = std::move(attrs);
  dispatch(op, args);
  return std::move(args.out);
}

void check_same(const char* op, const std::vector<Tensor>& ts, bool floating) {
  for (size_t i = 0; i < ts.size(); ++i) {
    DIVE_CHECK(ts[i].defined(), op, ": input ", i, " is undefined");
    if (floating)
      DIVE_CHECK(is_floating(ts[i].dtype()), op, ": input ", i, " has dtype ", dtype_name(ts[i].dtype()),
                 ", expected f32 or f64");
    DIVE_CHECK(ts[i].dtype() == ts[0].dtype(), op, ": dtype mismatch, input 0 is ",
               dtype_name(ts[0].dtype()), " but input ", i, " is ", dtype_name(ts[i].dtype()));
    DIVE_CHECK(ts[i].device() == ts[0].device(), op, ": device mismatch, input 0 on ",
               ts[0].device().str(), " but input ", i, " on ", ts[i].device().str());
  }
}

std::vector<int64_t> norm_axes(const char* op, std::vector<int64_t> axes, int64_t rank) {
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
    return axes;
  }
  for (auto& a : axes) a = wrap_dim(a, rank, op);
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

Shape reduced_shape(const Shape& s, const std::vector<int64_t>& axes, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < int64_t(s.size()); ++i) {
    bool red = std::binary_search(axes.begin(), axes.end(), i);
    if (!red) out.push_back(s[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

Tensor unsqueeze_axes(const Tensor& g, const std::vector<int64_t>& axes, int64_t rank) {
  if (g.dim() == rank) return g;
  Shape s;
  int64_t j = 0;
  for (int64_t i = 0; i < rank; ++i) {
    if (std::binary_search(axes.begin(), axes.end(), i)) s.push_back(1);
    else s.push_back(g.shape()[j++]);
  }
  return g.reshape(s);
}

int64_t conv_out_size(const char* op, const Tensor& x, int64_t in, int64_t k, int64_t stride, int64_t pad,
                      int64_t dilation) {
  const int64_t eff = dilation * (k - 1) + 1;
  DIVE_CHECK(in + 2 * pad >= eff, op, ": input ", x.str(), " (padded size ", in + 2 * pad,
             ") is smaller than the effective kernel size ", eff);
  return (in + 2 * pad - eff) / stride + 1;
}

}  // namespace dive::ops
