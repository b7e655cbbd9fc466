// Fills the reference kernel table (every op in lib/ops/op_list.def).
#include "lib/ops/dispatch.h"

namespace dive {
namespace ref {
void register_elementwise(KernelTable& t);
void register_reduce(KernelTable& t);
void register_linalg(KernelTable& t);
void register_nn(KernelTable& t);
void register_indexing(KernelTable& t);
void register_rnn(KernelTable& t);
void register_similarity(KernelTable& t);
void register_conv(KernelTable& t);
}  // namespace ref

void register_ref_kernels(KernelTable& t) {
  ref::register_elementwise(t);
  ref::register_reduce(t);
  ref::register_linalg(t);
  ref::register_nn(t);
  ref::register_indexing(t);
  ref::register_rnn(t);
  ref::register_similarity(t);
  ref::register_conv(t);
}

}  // namespace dive
