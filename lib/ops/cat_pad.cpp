// Assembly: cat (and stack/split on top of it) and constant pad.
#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

Tensor cat(const std::vector<Tensor>& xs, int64_t axis) {
  DIVE_CHECK(!xs.empty(), "cat: no tensors given");
  check_same("cat", xs, false);
  int64_t ax = wrap_dim(axis, xs[0].dim(), "cat");
  Shape s = xs[0].shape();
  s[ax] = 0;
  std::vector<int64_t> sizes;
  std::vector<Tensor> kin;
  for (size_t i = 0; i < xs.size(); ++i) {
    DIVE_CHECK(xs[i].dim() == xs[0].dim(), "cat: tensor ", i, " is ", xs[i].str(), ", tensor 0 is ", xs[0].str());
    for (int64_t d = 0; d < xs[0].dim(); ++d)
      DIVE_CHECK(d == ax || xs[i].size(d) == xs[0].size(d), "cat: tensor ", i, " is ", xs[i].str(),
                 ", expected size ", xs[0].size(d), " in dim ", d);
    s[ax] += xs[i].size(ax);
    sizes.push_back(xs[i].size(ax));
    kin.push_back(xs[i].detach());
  }
  Tensor out = run1(OpId::cat, kin, s, xs[0].dtype(), Attrs{{ax}, {}});
  if (is_floating(out.dtype()) && any_requires_grad(xs)) {
    record("cat", xs, {&out}, [=](const std::vector<Tensor>& g) {
      std::vector<Tensor> r;
      int64_t start = 0;
      for (auto n : sizes) {
        r.push_back(g[0].slice(ax, start, start + n));
        start += n;
      }
      return r;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t axis) {
  DIVE_CHECK(!xs.empty(), "stack: no tensors given");
  int64_t ax = wrap_dim(axis, xs[0].dim() + 1, "stack");
  std::vector<Tensor> u;
  for (size_t i = 0; i < xs.size(); ++i) {
    DIVE_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor ", i, " is ", xs[i].str(), ", tensor 0 is ",
               xs[0].str());
    u.push_back(xs[i].unsqueeze(ax));
  }
  return cat(u, ax);
}

std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t axis) {
  DIVE_CHECK(size > 0, "split: chunk size must be positive, got ", size);
  int64_t ax = wrap_dim(axis, x.dim(), "split");
  std::vector<Tensor> r;
  for (int64_t s = 0; s < x.size(ax); s += size) r.push_back(x.slice(ax, s, std::min(s + size, x.size(ax))));
  return r;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  check_same("pad", {x});
  DIVE_CHECK(pads.size() % 2 == 0 && int64_t(pads.size()) <= 2 * x.dim(), "pad: expected before/after pairs for at most ",
             x.dim(), " dims, got ", pads.size(), " values");
  std::vector<int64_t> p(size_t(2 * x.dim()), 0);
  std::copy(pads.begin(), pads.end(), p.begin());
  Shape s = x.shape();
  for (int64_t d = 0; d < x.dim(); ++d) {
    DIVE_CHECK(p[2 * d] >= 0 && p[2 * d + 1] >= 0, "pad: negative padding in dim ", d);
    s[d] += p[2 * d] + p[2 * d + 1];
  }
  Tensor out = run1(OpId::pad, {x.detach()}, s, x.dtype(), PadAttrs{p, value}.pack());
  if (any_requires_grad({x})) {
    Shape xs = x.shape();
    record("pad", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor v = g[0];
      for (int64_t d = 0; d < int64_t(xs.size()); ++d) v = v.slice(d, p[2 * d], p[2 * d] + xs[d]);
      return std::vector<Tensor>{v};
    });
  }
  return out;
}

}  // namespace dive
