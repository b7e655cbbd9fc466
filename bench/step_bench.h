// Shared by the step benchmarks (bench_train_step, bench_resnet50): the optional GPU mode argument,
// the timed step loop and the fields of their JSON line.
#pragma once
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "lib/ops/dispatch.h"
#if DIVE_HAVE_CUDA
#include "lib/backend/cuda/device.h"
#endif

namespace dive::bench {

// argv[at] == "nondet" lets CUDA use atomics and any cuDNN algorithm (dive's --nondeterministic), to
// compare with PyTorch's default, which is not deterministic either. Returns the mode for the JSON line.
inline const char* apply_gpu_mode(int argc, char** argv, int at) {
  bool nondet = argc > at && std::strcmp(argv[at], "nondet") == 0;
#if DIVE_HAVE_CUDA
  cuda::set_deterministic(!nondet);
#endif
  return nondet ? "nondeterministic" : "deterministic";
}

// Runs step() steps + 1 times and waits for `dev` after each; the first run warms up (primitive creation,
// allocations) and is left out of the times and of DIVE_PROFILE's tables. Returns the times in ms as the
// body of a JSON list ("12.3, 12.1").
template <class F>
std::string timed_steps(int steps, Device dev, F&& step) {
  std::string times;
  for (int s = 0; s <= steps; ++s) {
    auto t0 = std::chrono::steady_clock::now();
    step();
    synchronize(dev);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (s == 0) reset_op_profile();
    else times += (times.empty() ? "" : ", ") + std::to_string(ms);
  }
  return times;
}

// The JSON fields every step benchmark prints: impl, batch, device, mode, step_ms, peak RSS and GPU memory.
inline std::string step_fields(int64_t batch, Device dev, const char* mode, const std::string& times) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  char buf[256];
  std::snprintf(buf, sizeof buf, "\"peak_rss_mb\": %.1f, \"peak_gpu_mb\": %.1f", double(ru.ru_maxrss) / 1024.0,
                double(device_memory(dev).peak_allocated) / 1048576.0);
  return "\"impl\": \"dive\", \"batch\": " + std::to_string(batch) + ", \"device\": \"" + dev.str() +
         "\", \"mode\": \"" + mode + "\", \"step_ms\": [" + times + "], " + buf;
}

}  // namespace dive::bench
