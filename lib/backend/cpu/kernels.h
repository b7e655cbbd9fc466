// Kernel entry points of the CPU backend (one per op, calling convention of lib/ops/op_list.def).
#pragma once
#include "lib/ops/dispatch.h"

namespace dive::cpu {

// Runs the reference kernel of `op` on the same host tensors: the f64 (and empty-tensor) path of ops
// whose f32 path is a oneDNN primitive, so those loops exist once (in lib/backend/ref).
void run_reference(OpId op, KernelArgs& a);

// copy.cpp
void copy(KernelArgs& a);
void fill(KernelArgs& a);
void cat(KernelArgs& a);
void pad(KernelArgs& a);
// elementwise.cpp / eltwise.cpp / random.cpp
void register_elementwise(KernelTable& t);
void register_eltwise(KernelTable& t);
void register_random(KernelTable& t);
// matmul.cpp, softmax.cpp, layer_norm.cpp, batch_norm.cpp, reduce.cpp, indexing.cpp
void register_matmul(KernelTable& t);
void register_softmax(KernelTable& t);
void register_layer_norm(KernelTable& t);
void register_batch_norm(KernelTable& t);
void register_reduce(KernelTable& t);
void register_indexing(KernelTable& t);
// rnn.cpp
void register_rnn(KernelTable& t);
// similarity.cpp (smooth-Chamfer)
void register_similarity(KernelTable& t);
// conv.cpp (oneDNN convolution), pool.cpp (pooling loops)
void register_conv(KernelTable& t);
void register_pool(KernelTable& t);

}  // namespace dive::cpu
