// ResNet-50 forward + backward at 224x224 (torchvision layout, with the classification head), timed.
// Prints one JSON line like bench_train_step. Usage: bench_resnet50 BATCH STEPS [device] [nondet]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/step_bench.h"
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
  std::string times = bench::timed_steps(steps, dev, [&] {
    net.zero_grad();
    sum(mul(net.forward(x), w)).backward();
  });
  std::printf("{%s}\n", bench::step_fields(B, dev, mode, times).c_str());
  return 0;
}
