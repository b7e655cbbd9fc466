// softmax, log_softmax (+ backward), layer_norm (+ backward), batch_norm (+ backward). (TODO: being written.)
#include "lib/backend/cuda/launch.cuh"

namespace dive::cuda {

void register_softmax_norm(KernelTable& t) { (void)t; }

}  // namespace dive::cuda
