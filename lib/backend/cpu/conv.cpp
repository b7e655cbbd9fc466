// CPU conv2d forward / backward-data / backward-weights. f32: oneDNN convolution primitives, cached
// per (direction, shapes, attrs) with their reorders and memory descriptors:
// - 1x1 stride-1 unpadded convolutions (see plain_layout) run on our plain NCHW / OIHW buffers
//   directly (oneDNN's GEMM convolution: one sgemm per image, no im2col, no reorders), which measured
//   faster than the blocked kernel plus the NCHW <-> blocked reorders around it (bench/RESULTS.md);
// - the others are created with format_tag::any (oneDNN picks its blocked layouts), with reorders
//   between our NCHW / OIHW buffers and those layouts into per-thread scratch buffers that are reused
//   from call to call (no allocation or page faults per call).
// f64: the direct loops of lib/backend/ref/conv_loops.h, parallel over batch elements (forward,
// backward data) or output channels (backward weights).
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <type_traits>

#include "lib/backend/cpu/engine.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/ref/conv_loops.h"

namespace dive::cpu {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// One cached convolution: the primitive and, per argument, the plain user layout, the primitive's
// layout and the reorder between them (null when they coincide).
struct Plan {
  struct Arg {
    int id;
    bool output;
    memory::desc user, prim;
    dnnl::primitive reorder;
    bool needs_reorder = false;
  };
  dnnl::primitive prim;
  std::vector<Arg> args;
};

void add_arg(Plan& p, int id, bool output, const memory::desc& user, const memory::desc& prim) {
  Plan::Arg a{id, output, user, prim, {}, false};
  if (user != prim) {
    a.needs_reorder = true;
    a.reorder = output ? dnnl::reorder(dnnl::reorder::primitive_desc(engine(), prim, engine(), user))
                       : dnnl::reorder(dnnl::reorder::primitive_desc(engine(), user, engine(), prim));
  }
  p.args.push_back(std::move(a));
}

std::mutex g_mutex;
std::unordered_map<std::string, std::shared_ptr<const Plan>>& plans() {
  static auto* m = new std::unordered_map<std::string, std::shared_ptr<const Plan>>();
  return *m;
}

std::shared_ptr<const Plan> cached_plan(const std::string& k, const std::function<std::shared_ptr<Plan>()>& make) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = plans().find(k);
    if (it != plans().end()) return it->second;
  }
  std::shared_ptr<const Plan> p = make();
  std::lock_guard<std::mutex> lock(g_mutex);
  return plans().emplace(k, p).first->second;
}

// Per-thread scratch for the primitive-layout copies, one buffer per argument slot, grown to the
// largest size seen and reused (a convolution call is synchronous, so a slot is free again after it).
struct Scratch {
  struct Buf {
    void* p = nullptr;
    size_t bytes = 0;
  };
  std::vector<Buf> slots;
  ~Scratch() {
    for (auto& b : slots) std::free(b.p);
  }
  void* get(size_t slot, size_t bytes) {
    if (slots.size() <= slot) slots.resize(slot + 1);
    Buf& b = slots[slot];
    if (b.bytes < bytes) {
      std::free(b.p);
      b.bytes = (bytes + 4095) / 4096 * 4096;
      b.p = std::aligned_alloc(64, b.bytes);
      DIVE_CHECK(b.p, "conv2d: scratch allocation of ", b.bytes, " bytes failed (out of memory)");
    }
    return b.p;
  }
};

// Runs a plan on user buffers given in the order of plan.args.
void run_plan(const Plan& p, const std::vector<const void*>& bufs) {
  thread_local Scratch scratch;
  std::unordered_map<int, memory> args;
  std::vector<std::pair<const Plan::Arg*, std::pair<memory, memory>>> outs;
  for (size_t i = 0; i < p.args.size(); ++i) {
    const Plan::Arg& a = p.args[i];
    memory um = mem(a.user, bufs[i]);
    if (!a.needs_reorder) {
      args.emplace(a.id, um);
      continue;
    }
    memory pm = mem(a.prim, scratch.get(i, a.prim.get_size()));
    if (a.output) outs.push_back({&a, {pm, um}});
    else execute(a.reorder, {{DNNL_ARG_FROM, um}, {DNNL_ARG_TO, pm}});
    args.emplace(a.id, pm);
  }
  execute(p.prim, args);
  for (auto& [a, m] : outs) execute(a->reorder, {{DNNL_ARG_FROM, m.first}, {DNNL_ARG_TO, m.second}});
}

struct Geo {
  memory::dims x, w, b, y, strides, dilates, pad_l, pad_r;
};
Geo geo(const ref::ConvGeom& g) {
  return {{g.N, g.C, g.H, g.W}, {g.O, g.C, g.KH, g.KW}, {g.O}, {g.N, g.O, g.OH, g.OW}, {g.sh, g.sw},
          {g.dh - 1, g.dw - 1},  // oneDNN dilation counts the gaps
          {g.ph, g.pw},          // symmetric padding: oneDNN floors the output size like PyTorch
          {g.ph, g.pw}};
}

// Whether the primitive works on our plain NCHW / OIHW buffers rather than on oneDNN's blocked
// layouts: 1x1, stride 1, no padding; for forward and backward data only from 28x28 up (below that the
// per-image GEMM [O, C] x [C, H W] is too thin and the blocked kernel wins despite the reorders).
enum class Dir { forward, backward_data, backward_weights };
bool plain_layout(const ref::ConvGeom& g, Dir d) {
  if (!(g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0)) return false;
  return d == Dir::backward_weights || g.H * g.W >= 28 * 28;
}

// The primitive's descriptors: format_tag::any, or our own layouts when `plain`.
struct Descs {
  memory::desc x, w, y;
};
Descs descs(const Geo& e, bool plain) {
  if (plain)
    return {memory::desc(e.x, dt::f32, tag::nchw), memory::desc(e.w, dt::f32, tag::oihw),
            memory::desc(e.y, dt::f32, tag::nchw)};
  return {memory::desc(e.x, dt::f32, tag::any), memory::desc(e.w, dt::f32, tag::any),
          memory::desc(e.y, dt::f32, tag::any)};
}

dnnl::convolution_forward::primitive_desc fwd_pd(const Geo& e, bool bias, bool plain) {
  using cf = dnnl::convolution_forward;
  auto alg = dnnl::algorithm::convolution_direct;
  auto pk = dnnl::prop_kind::forward_training;
  Descs d = descs(e, plain);
  if (bias)
    return cf::primitive_desc(cf::desc(pk, alg, d.x, d.w, memory::desc(e.b, dt::f32, tag::a), d.y, e.strides,
                                       e.dilates, e.pad_l, e.pad_r),
                              engine());
  return cf::primitive_desc(cf::desc(pk, alg, d.x, d.w, d.y, e.strides, e.dilates, e.pad_l, e.pad_r), engine());
}

std::string conv_key(const char* op, const ref::ConvGeom& g, bool bias) {
  return (Key(op) << Shape{g.N, g.C, g.H, g.W} << Shape{g.O, g.KH, g.KW} << Shape{g.sh, g.sw, g.ph, g.pw, g.dh, g.dw}
                  << int64_t(bias))
      .str();
}

// f64 loops (outside the dispatch macro: no pragma inside a macro argument)
template <class T>
void forward_loop(const ref::ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.N; ++n) ref::conv_fwd_n<T>(g, x, w, b, y, n);
}
template <class T>
void backward_data_loop(const ref::ConvGeom& g, const T* gy, const T* w, T* dx) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.N; ++n) ref::conv_bwd_data_n<T>(g, gy, w, dx, n);
}
template <class T>
void backward_weights_loop(const ref::ConvGeom& g, const T* gy, const T* x, T* dw) {
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < g.O; ++o) ref::conv_bwd_weights_o<T>(g, gy, x, dw, o);
}

void forward_f32(KernelArgs& a, const ref::ConvGeom& g, bool bias) {
  DNNL_CHECK("conv2d", {
    auto plan = cached_plan(conv_key("conv2d", g, bias), [&] {
      Geo e = geo(g);
      auto pd = fwd_pd(e, bias, plain_layout(g, Dir::forward));
      auto p = std::make_shared<Plan>();
      p->prim = dnnl::convolution_forward(pd);
      add_arg(*p, DNNL_ARG_SRC, false, memory::desc(e.x, dt::f32, tag::nchw), pd.src_desc());
      add_arg(*p, DNNL_ARG_WEIGHTS, false, memory::desc(e.w, dt::f32, tag::oihw), pd.weights_desc());
      if (bias) add_arg(*p, DNNL_ARG_BIAS, false, memory::desc(e.b, dt::f32, tag::a), pd.bias_desc());
      add_arg(*p, DNNL_ARG_DST, true, memory::desc(e.y, dt::f32, tag::nchw), pd.dst_desc());
      return p;
    });
    std::vector<const void*> bufs{a.in[0].raw_data(), a.in[1].raw_data()};
    if (bias) bufs.push_back(a.in[2].raw_data());
    bufs.push_back(a.out[0].raw_data());
    run_plan(*plan, bufs);
  });
}

// conv2d_backward_data (Prim = convolution_backward_data: in g, w -> dx) and conv2d_backward_weights
// (convolution_backward_weights: in g, x -> dw); the two differ only in the second input and the output.
template <class Prim>
void backward_f32(KernelArgs& a, const ref::ConvGeom& g) {
  constexpr bool data = std::is_same_v<Prim, dnnl::convolution_backward_data>;
  const char* op = data ? "conv2d_backward_data" : "conv2d_backward_weights";
  DNNL_CHECK(op, {
    auto plan = cached_plan(conv_key(op, g, false), [&] {
      Geo e = geo(g);
      const bool plain = plain_layout(g, data ? Dir::backward_data : Dir::backward_weights);
      Descs d = descs(e, plain);
      typename Prim::primitive_desc pd(typename Prim::desc(dnnl::algorithm::convolution_direct, d.x, d.w, d.y,
                                                           e.strides, e.dilates, e.pad_l, e.pad_r),
                                       engine(), fwd_pd(e, false, plain));
      auto p = std::make_shared<Plan>();
      p->prim = Prim(pd);
      const memory::desc x(e.x, dt::f32, tag::nchw), w(e.w, dt::f32, tag::oihw);
      add_arg(*p, DNNL_ARG_DIFF_DST, false, memory::desc(e.y, dt::f32, tag::nchw), pd.diff_dst_desc());
      if constexpr (data) {
        add_arg(*p, DNNL_ARG_WEIGHTS, false, w, pd.weights_desc());
        add_arg(*p, DNNL_ARG_DIFF_SRC, true, x, pd.diff_src_desc());
      } else {
        add_arg(*p, DNNL_ARG_SRC, false, x, pd.src_desc());
        add_arg(*p, DNNL_ARG_DIFF_WEIGHTS, true, w, pd.diff_weights_desc());
      }
      return p;
    });
    run_plan(*plan, {a.in[0].raw_data(), a.in[1].raw_data(), a.out[0].raw_data()});
  });
}

void conv2d(KernelArgs& a) {
  ref::ConvGeom g = ConvGeometry::of(a.in[0].shape(), a.in[1].shape(), a.out[0].shape(), a.attrs);
  bool bias = a.in.size() > 2 && a.in[2].defined();
  if (a.out[0].numel() == 0) return;
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "conv2d", [&] {
    if constexpr (std::is_same_v<scalar_t, float>) {
      forward_f32(a, g, bias);
    } else {
      const scalar_t *x = a.in[0].data<scalar_t>(), *w = a.in[1].data<scalar_t>();
      const scalar_t* b = bias ? a.in[2].data<scalar_t>() : nullptr;
      forward_loop<scalar_t>(g, x, w, b, a.out[0].data<scalar_t>());
    }
  });
}

void conv2d_backward_data(KernelArgs& a) {
  ref::ConvGeom g = ConvGeometry::of(a.out[0].shape(), a.in[1].shape(), a.in[0].shape(), a.attrs);
  if (a.out[0].numel() == 0) return;
  if (a.in[0].numel() == 0) {
    std::fill_n(static_cast<char*>(a.out[0].raw_data()), a.out[0].numel() * int64_t(dtype_size(a.out[0].dtype())), 0);
    return;
  }
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "conv2d_backward_data", [&] {
    if constexpr (std::is_same_v<scalar_t, float>) {
      backward_f32<dnnl::convolution_backward_data>(a, g);
    } else {
      const scalar_t *gy = a.in[0].data<scalar_t>(), *w = a.in[1].data<scalar_t>();
      backward_data_loop<scalar_t>(g, gy, w, a.out[0].data<scalar_t>());
    }
  });
}

void conv2d_backward_weights(KernelArgs& a) {
  ref::ConvGeom g = ConvGeometry::of(a.in[1].shape(), a.out[0].shape(), a.in[0].shape(), a.attrs);
  if (a.out[0].numel() == 0) return;
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "conv2d_backward_weights", [&] {
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (a.in[0].numel() > 0) {
        backward_f32<dnnl::convolution_backward_weights>(a, g);
        return;
      }
    }
    const scalar_t *gy = a.in[0].data<scalar_t>(), *x = a.in[1].data<scalar_t>();
    backward_weights_loop<scalar_t>(g, gy, x, a.out[0].data<scalar_t>());
  });
}

}  // namespace

void register_conv(KernelTable& t) {
  t.kernels[int(OpId::conv2d)] = conv2d;
  t.kernels[int(OpId::conv2d_backward_data)] = conv2d_backward_data;
  t.kernels[int(OpId::conv2d_backward_weights)] = conv2d_backward_weights;
}

}  // namespace dive::cpu
