// ResNet-50 forward + backward at 224x224 (torchvision layout, with the classification head), timed.
// Prints one JSON line like bench_train_step. Usage: bench_resnet50 BATCH STEPS [device] [nondet]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/gpu_mode.h"
#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#include "model/resnet.h"

using namespace dive;

int main(int argc, char** argv) {
  int64_t B = argc > 1 ? std::atoll(argv[1]) : 8;
  int steps = argc > 2 ? std::atoi(argv[2]) : 5;
  Device dev = Device::parse(argc > 3 ? argv[3] : "cpu");
  const char* mode = bench::apply_gpu_mode(argc, argv, 4);
  manual_seed(0);
  model::ResNetConfig rc;
  rc.depth = 50;
  rc.with_head = true;
  model::ResNet net(rc);
  net.to(dev);
  net.train();
  Tensor x = Tensor::randn({B, 3, 224, 224}).to(dev);
  Tensor w = Tensor::randn({B, rc.num_classes}).to(dev);
  std::string times;
  for (int s = 0; s <= steps; ++s) {  // step 0 warms up (primitive creation, allocations)
    auto t0 = std::chrono::steady_clock::now();
    net.zero_grad();
    sum(mul(net.forward(x), w)).backward();
    synchronize(dev);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (s == 0) reset_op_profile();  // DIVE_PROFILE tables leave out the warm-up step
    if (s > 0) times += (times.empty() ? "" : ", ") + std::to_string(ms);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("{\"impl\": \"dive\", \"batch\": %lld, \"device\": \"%s\", \"mode\": \"%s\", \"step_ms\": [%s], \"peak_rss_mb\": %.1f, "
              "\"peak_gpu_mb\": %.1f}\n",
              (long long)B, dev.str().c_str(), mode, times.c_str(), double(ru.ru_maxrss) / 1024.0, double(device_memory(dev).peak_allocated) / 1048576.0);
  return 0;
}
