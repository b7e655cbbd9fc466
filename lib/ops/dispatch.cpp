#include "lib/ops/dispatch.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <mutex>


namespace dive {

namespace {

const char* const kOpNames[] = {
#define DIVE_OP(name, kind) #name,
#include "lib/ops/op_list.def"
#undef DIVE_OP
};
const OpKind kOpKinds[] = {
#define DIVE_OP(name, kind) OpKind::kind,
#include "lib/ops/op_list.def"
#undef DIVE_OP
};

// Family of each op: the list interleaves family markers and ops; walk it once.
std::array<const char*, kNumOps> make_op_families() {
  struct Entry {
    const char* family;  // set on a family marker, null on an op
  };
  static const Entry entries[] = {
#define DIVE_FAMILY(f) {#f},
#define DIVE_OP(name, kind) {nullptr},
#include "lib/ops/op_list.def"
#undef DIVE_OP
#undef DIVE_FAMILY
  };
  std::array<const char*, kNumOps> out{};
  const char* family = "";
  size_t op = 0;
  for (const Entry& e : entries) {
    if (e.family) family = e.family;
    else out[op++] = family;
  }
  return out;
}
const std::array<const char*, kNumOps> kOpFamilies = make_op_families();

struct Registry {
  KernelTable tables[kNumDeviceKinds];
  bool own[kNumDeviceKinds] = {true, false, false};
  Registry() {
    link_core_hooks();
    tables[int(DeviceKind::ref)].name = "ref";
    register_ref_kernels(tables[int(DeviceKind::ref)]);
#if DIVE_HAVE_ONEDNN
    tables[int(DeviceKind::cpu)].name = "cpu";
    register_cpu_kernels(tables[int(DeviceKind::cpu)]);
    own[int(DeviceKind::cpu)] = true;
#else
    tables[int(DeviceKind::cpu)] = tables[int(DeviceKind::ref)];
    tables[int(DeviceKind::cpu)].name = "cpu (reference kernels: built without oneDNN)";
#endif
    tables[int(DeviceKind::cuda)].name = "cuda";
#if DIVE_HAVE_CUDA
    if (cuda_backend_init()) {
      register_cuda_kernels(tables[int(DeviceKind::cuda)]);
      own[int(DeviceKind::cuda)] = true;
    }
#endif
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

std::array<uint64_t, kNumOps> g_counts{};

// DIVE_PROFILE=1: wall time per op kernel, printed as a table at exit. Host backends run synchronously;
// on CUDA the device is synchronised before and after each kernel, so the time is the kernel's execution
// plus one launch (the run itself gets slower: a profile, not a benchmark). DIVE_PROFILE=shapes adds a
// second table keyed by op and input shapes ("*" marks a non-contiguous input): which call of an op is slow.
struct Profile {
  bool on = false;
  bool by_shape = false;
  std::array<double, kNumOps> seconds{};
  std::array<uint64_t, kNumOps> calls{};
  std::map<std::string, std::pair<double, uint64_t>> shapes;  // key -> (seconds, calls)
  Profile() {
    const char* e = std::getenv("DIVE_PROFILE");
    on = e && *e && std::string(e) != "0";
    by_shape = on && std::string(e) == "shapes";
  }
  void add(OpId op, const KernelArgs& args, double s) {
    seconds[int(op)] += s;
    ++calls[int(op)];
    if (!by_shape) return;
    std::string key = kOpNames[int(op)];
    for (const auto& t : args.in) {
      if (!t.defined()) continue;
      key += " " + shape_str(t.shape());
      if (!t.is_contiguous()) key += "*";
    }
    auto& e = shapes[key];
    e.first += s;
    ++e.second;
  }
  void reset() {
    seconds.fill(0);
    calls.fill(0);
    shapes.clear();
  }
  ~Profile() {
    if (!on) return;
    double total = 0;
    for (double s : seconds) total += s;
    std::vector<int> order;
    for (int i = 0; i < kNumOps; ++i)
      if (calls[i]) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return seconds[a] > seconds[b]; });
    std::fprintf(stderr, "\n%-22s %10s %12s %7s\n", "op (DIVE_PROFILE)", "calls", "total ms", "share");
    for (int i : order)
      std::fprintf(stderr, "%-22s %10llu %12.1f %6.1f%%\n", kOpNames[i], (unsigned long long)calls[i],
                   seconds[i] * 1e3, total > 0 ? 100.0 * seconds[i] / total : 0.0);
    std::fprintf(stderr, "%-22s %10s %12.1f\n", "all kernels", "", total * 1e3);
    if (!by_shape) return;
    std::vector<std::pair<std::string, std::pair<double, uint64_t>>> rows(shapes.begin(), shapes.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    std::fprintf(stderr, "\n%10s %8s %9s  %s\n", "total ms", "calls", "us/call", "op and input shapes");
    for (size_t i = 0; i < rows.size() && i < 60; ++i)
      std::fprintf(stderr, "%10.2f %8llu %9.1f  %s\n", rows[i].second.first * 1e3,
                   (unsigned long long)rows[i].second.second, 1e6 * rows[i].second.first / rows[i].second.second,
                   rows[i].first.c_str());
  }
};

Profile& profile() {
  static Profile p;
  return p;
}

}  // namespace

const char* op_name(OpId op) { return kOpNames[int(op)]; }
OpKind op_kind(OpId op) { return kOpKinds[int(op)]; }
const char* op_family(OpId op) { return kOpFamilies[size_t(op)]; }

const KernelTable& kernel_table(DeviceKind kind) { return registry().tables[int(kind)]; }
bool backend_available(DeviceKind kind) { return registry().own[int(kind)]; }
const std::array<uint64_t, kNumOps>& dispatch_counts() { return g_counts; }

void dispatch(OpId op, KernelArgs& args) {
  const Tensor& anchor = args.out.empty() ? args.in.at(0) : args.out[0];
  Device dev = anchor.device();
  for (const auto& t : args.in) {
    DIVE_CHECK(!t.defined() || t.device() == dev, op_name(op), ": input on ", t.device().str(),
               " but the op runs on ", dev.str(), "; move tensors with .to(device) first");
  }
  if (dev.kind == DeviceKind::cuda) {
    DIVE_CHECK(backend_available(DeviceKind::cuda), op_name(op), ": no CUDA device available");
  }
  const KernelTable& table = kernel_table(dev.kind);
  Kernel k = table.kernels[int(op)];
  DIVE_CHECK(k, op_name(op), ": not implemented on backend '", table.name, "'");
  ++g_counts[int(op)];
  Profile& prof = profile();
  if (!prof.on) {
    k(args);
    return;
  }
  const bool gpu = dev.kind == DeviceKind::cuda;
  if (gpu) synchronize(dev);
  auto t0 = std::chrono::steady_clock::now();
  k(args);
  if (gpu) synchronize(dev);
  prof.add(op, args, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void reset_op_profile() { profile().reset(); }

void synchronize(Device d) {
#if DIVE_HAVE_CUDA
  if (d.kind == DeviceKind::cuda && backend_available(DeviceKind::cuda)) cuda_synchronize(d.index);
#else
  (void)d;
#endif
}

DeviceMemory device_memory(Device d) {
  DeviceMemory m;
#if DIVE_HAVE_CUDA
  if (d.kind == DeviceKind::cuda && backend_available(DeviceKind::cuda)) m = cuda_device_memory(d.index);
#else
  (void)d;
#endif
  return m;
}

}  // namespace dive
