// Registers one Boost test case per op case ("ops/<name>"), plus the op-table completeness checks.
#include <boost/test/unit_test.hpp>

#include <set>

#include "test/op_harness.h"

namespace dive::test {

namespace {

// The Bwd kernels that ran inside a gradcheck (the backward of some Fwd op's case): filled by the op
// cases, read by op_table/every_bwd_kernel_runs_in_a_gradcheck.
std::set<int>& bwd_seen_in_gradcheck() {
  static std::set<int> s;
  return s;
}

void run_op_case(const OpCase& c, uint64_t seed) {
  auto before = dispatch_counts();
  std::string err = run_gradcheck(c, seed);
  BOOST_TEST(err.empty(), err);
  if (c.gradcheck) {
    const auto& now = dispatch_counts();
    for (int i = 0; i < kNumOps; ++i)
      if (op_kind(OpId(i)) == OpKind::Bwd && now[i] > before[i]) bwd_seen_in_gradcheck().insert(i);
  }
  // Parity also runs the case on the reference backend, so the coverage check below sees every op.
  std::vector<Device> devs = parity_devices();
  if (devs.empty()) {
    std::vector<Tensor> in = make_inputs(c, seed, DType::f32, kRef);
    c.fn(in);
  }
  for (Device d : devs) {
    std::string e = run_parity(c, seed, d);
    BOOST_TEST(e.empty(), e);
  }
  auto after = dispatch_counts();
  for (OpId op : c.covers)
    BOOST_TEST(after[int(op)] > before[int(op)], "op case '" << c.name << "' declares op '" << op_name(op)
                                                              << "' but never dispatched it");
}

struct Registrar {
  Registrar() {
    auto* suite = BOOST_TEST_SUITE("ops");
    const auto& cases = op_cases();
    for (size_t i = 0; i < cases.size(); ++i) {
      const OpCase* c = &cases[i];
      uint64_t seed = 1000 + i;
      suite->add(boost::unit_test::make_test_case([c, seed] { run_op_case(*c, seed); }, c->name, __FILE__, __LINE__));
    }
    boost::unit_test::framework::master_test_suite().add(suite);
  }
} registrar;

}  // namespace

BOOST_AUTO_TEST_SUITE(op_table)

BOOST_AUTO_TEST_CASE(every_op_has_a_reference_kernel) {
  const KernelTable& ref = kernel_table(DeviceKind::ref);
  for (int i = 0; i < kNumOps; ++i)
    BOOST_TEST(ref.kernels[i] != nullptr, "op '" << op_name(OpId(i)) << "' has no reference kernel");
}

BOOST_AUTO_TEST_CASE(every_op_has_a_test_case) {
  std::set<int> covered;
  for (const auto& c : op_cases())
    for (OpId op : c.covers) covered.insert(int(op));
  for (int i = 0; i < kNumOps; ++i)
    BOOST_TEST(covered.count(i) == 1, "op '" << op_name(OpId(i)) << "' has no case in test/op_cases.cpp");
}

// The kind column of lib/ops/op_list.def is a contract: a Fwd op has a case that is gradchecked by
// finite differences, and a Plain op is not differentiable (its cases run no gradcheck).
BOOST_AUTO_TEST_CASE(every_fwd_op_is_gradchecked) {
  std::set<int> checked, plain_checked;
  for (const auto& c : op_cases())
    for (OpId op : c.covers) {
      if (c.gradcheck && c.finite_differences) checked.insert(int(op));
      if (c.gradcheck && op_kind(op) == OpKind::Plain && c.covers.size() == 1) plain_checked.insert(int(op));
    }
  for (int i = 0; i < kNumOps; ++i) {
    if (op_kind(OpId(i)) == OpKind::Fwd)
      BOOST_TEST(checked.count(i) == 1, "Fwd op '" << op_name(OpId(i)) << "' has no finite-difference gradcheck case");
    BOOST_TEST(plain_checked.count(i) == 0, "Plain op '" << op_name(OpId(i)) << "' has a gradcheck case of its own");
  }
}

// A Bwd kernel is exercised through the forward op it differentiates: it must have run during the
// gradcheck of some case (run after the op cases, which record what they dispatched).
BOOST_AUTO_TEST_CASE(every_bwd_kernel_runs_in_a_gradcheck, *boost::unit_test::depends_on("ops")) {
  for (int i = 0; i < kNumOps; ++i)
    if (op_kind(OpId(i)) == OpKind::Bwd)
      BOOST_TEST(bwd_seen_in_gradcheck().count(i) == 1,
                 "Bwd kernel '" << op_name(OpId(i)) << "' never ran in the gradcheck of an op case");
}

BOOST_AUTO_TEST_CASE(cpu_backend_implements_every_op) {
  if (!backend_available(DeviceKind::cpu)) {
    BOOST_TEST_MESSAGE("skipped: built without oneDNN (the cpu device runs the reference kernels)");
    return;
  }
  const KernelTable& cpu = kernel_table(DeviceKind::cpu);
  for (int i = 0; i < kNumOps; ++i)
    BOOST_TEST(cpu.kernels[i] != nullptr, "op '" << op_name(OpId(i)) << "' missing on the cpu backend");
}

// Checked without a GPU: registration only fills the table, it does not touch a device.
BOOST_AUTO_TEST_CASE(cuda_backend_implements_every_op) {
#if DIVE_HAVE_CUDA
  KernelTable cuda;
  register_cuda_kernels(cuda);
  for (int i = 0; i < kNumOps; ++i)
    BOOST_TEST(cuda.kernels[i] != nullptr, "op '" << op_name(OpId(i)) << "' missing on the cuda backend");
#else
  BOOST_TEST_MESSAGE("skipped: built without CUDA");
#endif
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace dive::test
