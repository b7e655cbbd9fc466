// Kernel entry points of the CPU backend shared between its files (calling convention of
// lib/ops/op_list.def). Each family's register_<family> is declared by register.cpp from the op list.
#pragma once
#include "lib/ops/dispatch.h"

namespace dive::cpu {

// Runs the reference kernel of `op` on the same host tensors: the f64 (and empty-tensor) path of ops
// whose f32 path is a oneDNN primitive, so those loops exist once (in lib/backend/ref).
void run_reference(OpId op, KernelArgs& a);

// copy.cpp (also used by cat_pad.cpp)
void copy(KernelArgs& a);
void fill(KernelArgs& a);
// elementwise_unary.cpp, called by register_elementwise (elementwise.cpp)
void register_elementwise_unary(KernelTable& t);

}  // namespace dive::cpu
