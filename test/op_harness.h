// The data-driven op test: one OpCase per op application (shapes, layouts, tolerance). Every case runs
// a finite-difference gradcheck in f64 on the reference backend and a forward/backward parity check of
// every other backend against the reference backend in f32.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"

namespace dive::test {

enum class Fill { normal, positive, uniform, index, mask, away_from_zero };
enum class Layout { contiguous, transposed, strided };

struct In {
  Shape shape;
  Fill fill = Fill::normal;
  Layout layout = Layout::contiguous;
  bool grad = true;      // requires_grad (floating inputs only)
  double lo = 0, hi = 1; // uniform range; index range [lo, hi)
};

struct OpCase {
  std::string name;
  std::vector<OpId> covers;  // ops this case must dispatch
  std::vector<In> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  double tol = 1e-5;         // forward parity (f32 vs reference f32): |a-b| <= tol * (1 + |b|)
  double grad_tol = 1e-4;    // backward parity
  bool gradcheck = true;     // false for non-differentiable outputs (no gradcheck, no backward parity)
  double fd_rtol = 1e-4;     // gradcheck tolerance (f64)
  bool finite_differences = true;  // false: backward parity only (inputs too large for a gradcheck)
};

const std::vector<OpCase>& op_cases();

// Builds the inputs of a case on `dev` in `dt` (index/mask inputs keep their dtypes). Same seed, same values.
std::vector<Tensor> make_inputs(const OpCase& c, uint64_t seed, DType dt, Device dev);

// Runs one case; returns an empty string on success, else a description (with seed and repro).
std::string run_gradcheck(const OpCase& c, uint64_t seed);
std::string run_parity(const OpCase& c, uint64_t seed, Device dev);

// The devices with a backend of their own, besides ref.
std::vector<Device> parity_devices();

}  // namespace dive::test
