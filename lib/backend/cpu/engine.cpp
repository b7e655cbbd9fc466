// Engine, stream and primitive cache of the CPU backend.
#include "lib/backend/cpu/engine.h"

#include <memory>
#include <mutex>

namespace dive::cpu {

namespace {

struct Context {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
};

Context& context() {
  static Context* c = [] {
    Context* p = nullptr;
    DNNL_CHECK("cpu backend init", p = new Context());
    return p;
  }();
  return *c;
}

std::mutex g_cache_mutex;
std::unordered_map<std::string, dnnl::primitive>& cache() {
  static auto* m = new std::unordered_map<std::string, dnnl::primitive>();
  return *m;
}

}  // namespace

dnnl::engine& engine() { return context().eng; }
dnnl::stream& stream() { return context().strm; }

dnnl::primitive cached_primitive(const Key& key, const std::function<dnnl::primitive()>& make) {
  std::string k = key.str();
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = cache().find(k);
    if (it != cache().end()) return it->second;
  }
  dnnl::primitive p = make();  // outside the lock: creation may take a while
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  return cache().emplace(k, p).first->second;
}


dnnl::memory::desc md(const Shape& dims, const Shape& strides, dnnl::memory::data_type dt) {
  if (dims.empty()) return dnnl::memory::desc({1}, dt, dnnl::memory::dims{1});
  return dnnl::memory::desc(dnnl::memory::dims(dims.begin(), dims.end()), dt,
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

dnnl::memory::desc plain_md(const Shape& dims) { return md(dims, contiguous_strides(dims)); }

dnnl::memory mem(const dnnl::memory::desc& d, const void* p) {
  return dnnl::memory(d, engine(), const_cast<void*>(p));
}

bool describable(const Tensor& t) {
  if (t.dtype() != DType::f32 || t.dim() > 12 || t.numel() == 0) return false;
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.shape()[d] > 1 && t.strides()[d] <= 0) return false;
  return true;
}

void execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args) {
  p.execute(stream(), args);
  stream().wait();
}

}  // namespace dive::cpu
