// conv2d, conv2d_backward_data, conv2d_backward_weights (cuDNN). (TODO: being written.)
#include "lib/backend/cuda/launch.cuh"

namespace dive::cuda {

void register_conv(KernelTable& t) { (void)t; }

}  // namespace dive::cuda
