// Indexing and assembly: index_select/index_add, gather/scatter_add, masked_fill, cat/stack/split, pad.
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

namespace {
void check_index(const char* op, const Tensor& idx, const Tensor& x) {
  DIVE_CHECK(idx.defined() && is_index(idx.dtype()), op, ": indices must be i64 or i32, got ",
             idx.defined() ? dtype_name(idx.dtype()) : "undefined");
  DIVE_CHECK(idx.device() == x.device(), op, ": indices on ", idx.device().str(), ", data on ", x.device().str());
}
}  // namespace

Tensor index_select(const Tensor& x, int64_t axis, const Tensor& idx) {
  check_same("index_select", {x});
  check_index("index_select", idx, x);
  DIVE_CHECK(idx.dim() == 1, "index_select: indices must be 1-D, got ", idx.str());
  int64_t ax = wrap_dim(axis, x.dim(), "index_select");
  Shape s = x.shape();
  s[ax] = idx.size(0);
  Tensor ic = idx.contiguous();
  Tensor out = run1(OpId::index_select, {x.detach().contiguous(), ic}, s, x.dtype(), Attrs{{ax}, {}});
  if (any_requires_grad({x})) {
    Shape xs = x.shape();
    record("index_select", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{index_add(Tensor::zeros(xs, g[0].dtype(), g[0].device()), ax, ic, g[0])};
    });
  }
  return out;
}

Tensor index_add(const Tensor& base, int64_t axis, const Tensor& idx, const Tensor& src) {
  check_same("index_add", {base, src});
  check_index("index_add", idx, base);
  DIVE_CHECK(idx.dim() == 1, "index_add: indices must be 1-D, got ", idx.str());
  int64_t ax = wrap_dim(axis, base.dim(), "index_add");
  Shape want = base.shape();
  want[ax] = idx.size(0);
  DIVE_CHECK(src.shape() == want, "index_add: source ", src.str(), " should have shape ", shape_str(want));
  Tensor ic = idx.contiguous();
  Tensor out = run1(OpId::index_add, {base.detach().contiguous(), ic, src.detach().contiguous()}, base.shape(),
                    base.dtype(), Attrs{{ax}, {}});
  if (any_requires_grad({base, src})) {
    bool rs = src.requires_grad();
    record("index_add", {base, src}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{g[0], rs ? index_select(g[0], ax, ic) : Tensor()};
    });
  }
  return out;
}

Tensor gather(const Tensor& x, int64_t axis, const Tensor& idx) {
  check_same("gather", {x});
  check_index("gather", idx, x);
  int64_t ax = wrap_dim(axis, x.dim(), "gather");
  DIVE_CHECK(idx.dim() == x.dim(), "gather: indices ", idx.str(), " must have the rank of the input ", x.str());
  for (int64_t d = 0; d < x.dim(); ++d)
    DIVE_CHECK(d == ax || idx.size(d) <= x.size(d), "gather: indices ", idx.str(), " larger than input ",
               x.str(), " in dim ", d);
  Tensor ic = idx.contiguous();
  Tensor out = run1(OpId::gather, {x.detach().contiguous(), ic}, idx.shape(), x.dtype(), Attrs{{ax}, {}});
  if (any_requires_grad({x})) {
    Shape xs = x.shape();
    record("gather", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{scatter_add(Tensor::zeros(xs, g[0].dtype(), g[0].device()), ax, ic, g[0])};
    });
  }
  return out;
}

Tensor scatter_add(const Tensor& base, int64_t axis, const Tensor& idx, const Tensor& src) {
  check_same("scatter_add", {base, src});
  check_index("scatter_add", idx, base);
  int64_t ax = wrap_dim(axis, base.dim(), "scatter_add");
  DIVE_CHECK(idx.shape() == src.shape(), "scatter_add: indices ", idx.str(), " and source ", src.str(),
             " must have the same shape");
  DIVE_CHECK(idx.dim() == base.dim(), "scatter_add: indices ", idx.str(), " must have the rank of ", base.str());
  for (int64_t d = 0; d < base.dim(); ++d)
    DIVE_CHECK(d == ax || idx.size(d) <= base.size(d), "scatter_add: indices ", idx.str(), " larger than ",
               base.str(), " in dim ", d);
  Tensor ic = idx.contiguous();
  Tensor out = run1(OpId::scatter_add, {base.detach().contiguous(), ic, src.detach().contiguous()}, base.shape(),
                    base.dtype(), Attrs{{ax}, {}});
  if (any_requires_grad({base, src})) {
    bool rs = src.requires_grad();
    record("scatter_add", {base, src}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{g[0], rs ? gather(g[0], ax, ic) : Tensor()};
    });
  }
  return out;
}

Tensor length_mask(const Tensor& lengths, int64_t T, bool padded, const std::string& what) {
  DIVE_CHECK(lengths.dim() == 1 && is_index(lengths.dtype()), what, ": lengths must be a 1-D index tensor, got ",
             lengths.str());
  int64_t B = lengths.size(0);
  if (lengths.device().is_host()) {
    std::vector<int64_t> len = lengths.to(DType::i64).to_vector<int64_t>();
    std::vector<uint8_t> m(size_t(B * T));
    for (int64_t b = 0; b < B; ++b) {
      DIVE_CHECK(len[size_t(b)] >= 1 && len[size_t(b)] <= T, what, ": length ", len[size_t(b)], " of item ", b,
                 " outside [1, ", T, "]");
      for (int64_t t = 0; t < T; ++t) m[size_t(b * T + t)] = (t >= len[size_t(b)]) == padded;
    }
    return Tensor::from_raw(m.data(), {B, T}, DType::boolean, lengths.device());
  }
  std::vector<int64_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = t;
  Tensor p = Tensor::from_vector(pos, {1, T}, lengths.device());
  Tensor l = lengths.to(DType::i64).unsqueeze(1);
  return padded ? ge(p, l) : lt(p, l);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_same("masked_fill", {x});
  DIVE_CHECK(mask.defined() && mask.dtype() == DType::boolean, "masked_fill: mask must be bool, got ",
             mask.defined() ? dtype_name(mask.dtype()) : "undefined");
  Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  DIVE_CHECK(s == x.shape(), "masked_fill: mask ", mask.str(), " does not broadcast to the input ", x.str());
  Tensor m = mask.expand(s).detach();
  Tensor out = run1(OpId::masked_fill, {x.detach(), m}, x.shape(), x.dtype(), Attrs{{}, {value}});
  if (any_requires_grad({x})) {
    record("masked_fill", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{masked_fill(g[0], m, 0.0)};
    });
  }
  return out;
}

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
  Tensor out = run1(OpId::pad, {x.detach()}, s, x.dtype(), Attrs{p, {value}});
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
