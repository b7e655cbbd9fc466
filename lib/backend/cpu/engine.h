// oneDNN plumbing of the CPU backend: the engine and stream (created lazily), a thread-safe cache of
// primitives keyed by op + geometry + flags, memory-descriptor helpers and the DNNL_CHECK wrapper
// that turns dnnl::error into dive::Error naming the op. oneDNN headers stay inside lib/backend/cpu.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <sstream>
#include <string>
#include <unordered_map>

#include "lib/ops/dispatch.h"

namespace dive::cpu {

dnnl::engine& engine();
dnnl::stream& stream();

// Builds cache keys: Key("matmul") << dims << flag ...
class Key {
 public:
  explicit Key(const char* op) { os_ << op; }
  Key& operator<<(int64_t v) { os_ << ',' << v; return *this; }
  Key& operator<<(double v) { os_ << ',' << v; return *this; }
  Key& operator<<(const Shape& s) {
    os_ << ",[";
    for (auto v : s) os_ << v << ' ';
    os_ << ']';
    return *this;
  }
  std::string str() const { return os_.str(); }

 private:
  std::ostringstream os_;
};

// Returns the cached primitive for `key`, creating it with `make` on first use (thread-safe).
dnnl::primitive cached_primitive(const Key& key, const std::function<dnnl::primitive()>& make);

// f32 memory descriptor with explicit dims and element strides (0-d becomes [1]).
dnnl::memory::desc md(const Shape& dims, const Shape& strides,
                      dnnl::memory::data_type dt = dnnl::memory::data_type::f32);
// Plain row-major f32 descriptor.
dnnl::memory::desc plain_md(const Shape& dims);
// User memory over an existing buffer (no copy).
dnnl::memory mem(const dnnl::memory::desc& d, const void* p);
// Whether a tensor can be handed to oneDNN as is: f32, no broadcast (stride-0) dims, at most 12 dims.
bool describable(const Tensor& t);

// Executes a primitive on the stream and waits.
void execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args);

template <class F>
void dnnl_run(const char* op, const char* file, int line, F&& f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    ::dive::detail::throw_error(file, line, ::dive::detail::cat(op, ": oneDNN error: ", e.what(), " (status ",
                                                                int(e.status), ")"));
  }
}

}  // namespace dive::cpu

// DNNL_CHECK("op", statements...): runs the statements, rethrowing oneDNN errors as dive::Error.
#define DNNL_CHECK(op, ...) ::dive::cpu::dnnl_run(op, __FILE__, __LINE__, [&] { __VA_ARGS__; })
