// Deterministic-init model fixtures (weights from tools::deterministic_init, PyTorch f64 reference with
// gradient summaries): shared loader, summaries and the step comparison.
#pragma once
#include <array>
#include <map>
#include <string>

#include "model/vse.h"

namespace dive::test {

struct DetFixture {
  model::ModelConfig cfg;
  std::map<std::string, Tensor> expected;
  std::string batch;  // path of the batch file
};

// dir/name.{ini, batch.safetensors, expected.safetensors}
DetFixture load_det_fixture(const std::string& dir, const std::string& name);
bool starts_with(const std::string& s, const std::string& p);
std::vector<double> host_f64(const Tensor& t);
std::array<double, 3> summary(const Tensor& t);            // (||x||, <x,P1>, <x,P2>) as det_init.summary
std::array<double, 2> sign_projections(const Tensor& t);   // as det_init.sign_projections
double rel_error(const Tensor& got, const Tensor& expected);
// Checks the initbits.<key> checksums ((sum b_i, sum (i+1) b_i) mod 2^64 over the float32 bit patterns)
// against a model's state_dict: the deterministic init is bit-identical to PyTorch's. Returns the count.
int check_init_bits(const std::map<std::string, Tensor>& expected, const std::map<std::string, Tensor>& state_dict);
// One eval pass (initial weights) and one training step on `dev` in `dt` against the fixture: embeddings,
// losses, BN statistics, and every gradient's summaries; at least `min_grads` gradients.
void check_det_fixture(const DetFixture& f, Device dev, DType dt, const std::string& label, int min_grads);

}  // namespace dive::test
