// CPU dropout and random fills: element e uses the counter (seed, offset + e) exactly as the reference,
// so masks and numbers are bit-identical on any number of threads.
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/backend/kernel_math.h"
#include "lib/ops/attrs.h"

namespace dive::cpu {

namespace {

// philox_uniform with the last Philox block of this thread kept: threads walk contiguous index ranges,
// so three of four elements reuse the block (the values are those of philox_uniform exactly).
float uniform_cached(uint64_t seed, uint64_t index) {
  thread_local uint64_t cached_seed = ~0ull, cached_counter = ~0ull;
  thread_local Philox4x32 block;
  uint64_t counter = index >> 2;
  if (counter != cached_counter || seed != cached_seed) {
    block = philox(seed, counter);
    cached_counter = counter;
    cached_seed = seed;
  }
  return philox_uniform_from(block, index);
}

template <class T>
void dropout_t(KernelArgs& a) {
  const Tensor &x = a.in[0], &o = a.out[0], &mask = a.out[1];
  const DropoutAttrs d = DropoutAttrs::unpack(a.attrs);
  const uint64_t seed = d.stream.seed, offset = d.stream.offset;
  const double p = d.p;
  const T scale = T(1.0 / (1.0 - p));  // the reference's mask value, rounded to T
  T* po = ptr<T>(o);
  T* pm = ptr<T>(mask);
  const T* px = ptr<const T>(x);
  Plan<1> plan = make_plan<1>(x.shape(), {&x.strides()});
  parallel_walk<1>(plan, [&](int64_t i, const std::array<int64_t, 1>& off) {
    T m = double(uniform_cached(seed, offset + uint64_t(i))) >= p ? scale : T(0);  // kmath::dropout_keep
    pm[i] = m;
    po[i] = px[off[0]] * m;
  });
}

template <class T, bool Normal>
void random_t(KernelArgs& a) {
  const Tensor& o = a.out[0];
  const RandomAttrs r = RandomAttrs::unpack(a.attrs);
  const uint64_t seed = r.stream.seed, offset = r.stream.offset;
  const double f0 = r.a, f1 = r.b;
  T* p = ptr<T>(o);
  const int64_t n = o.numel();
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (Normal) p[i] = T(f0 + f1 * philox_normal(seed, offset + uint64_t(i)));
    else p[i] = T(f0 + (f1 - f0) * double(uniform_cached(seed, offset + uint64_t(i))));
  }
}

}  // namespace

void register_random(KernelTable& t) {
  t.kernels[int(OpId::dropout)] = [](KernelArgs& a) {
    DIVE_DISPATCH_FLOAT(a.out[0].dtype(), "dropout", [&] { dropout_t<scalar_t>(a); });
  };
  t.kernels[int(OpId::rand_uniform)] = [](KernelArgs& a) {
    DIVE_DISPATCH_FLOAT(a.out[0].dtype(), "rand_uniform", [&] { random_t<scalar_t, false>(a); });
  };
  t.kernels[int(OpId::rand_normal)] = [](KernelArgs& a) {
    DIVE_DISPATCH_FLOAT(a.out[0].dtype(), "rand_normal", [&] { random_t<scalar_t, true>(a); });
  };
}

}  // namespace dive::cpu
