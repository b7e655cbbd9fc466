// Registers one Boost test case per op case ("ops/<name>"), plus the op-table completeness checks.
#include <boost/test/unit_test.hpp>

#include <set>

#include "test/op_harness.h"

namespace dive::test {

namespace {

void run_op_case(const OpCase& c, uint64_t seed) {
  auto before = dispatch_counts();
  std::string err = run_gradcheck(c, seed);
  BOOST_TEST(err.empty(), err);
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
