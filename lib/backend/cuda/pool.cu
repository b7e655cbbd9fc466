// max_pool2d, avg_pool2d, adaptive_avg_pool2d (+ backward). (TODO: being written.)
#include "lib/backend/cuda/launch.cuh"

namespace dive::cuda {

void register_pool(KernelTable& t) { (void)t; }

}  // namespace dive::cuda
