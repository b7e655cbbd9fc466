// Indexing: index_select/index_add, gather/scatter_add, length masks, embedding lookup.
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

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  DIVE_CHECK(weight.dim() == 2, "embedding: weight must be [num_embeddings, dim], got ", weight.str());
  Shape s = indices.shape();
  s.push_back(weight.size(1));
  return index_select(weight, 0, indices.reshape({-1})).reshape(s);
}

}  // namespace dive
