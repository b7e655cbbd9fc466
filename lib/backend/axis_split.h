// A shape seen as [outer, n, inner] around one axis: the addressing of the index_select / index_add
// kernels of every host backend.
#pragma once
#include "lib/core/tensor.h"

namespace dive {

struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};

inline AxisSplit split_at(const Shape& s, int64_t ax) {
  AxisSplit r;
  for (int64_t d = 0; d < int64_t(s.size()); ++d) {
    if (d < ax) r.outer *= s[d];
    else if (d == ax) r.n = s[d];
    else r.inner *= s[d];
  }
  return r;
}

}  // namespace dive
