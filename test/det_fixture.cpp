// Shared by the deterministic-init fixture tests (test_model_default, test_model_cnn, test_resnet): loading,
// gradient summaries (as test/reference/det_init.py) and the comparison of one eval pass and one
// training step. The tolerances and their reasons are documented in test_model_default.cpp.
#include "test/det_fixture.h"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstring>

#include "lib/io/safetensors.h"
#include "lib/ops/ops.h"
#include "tools/run/step.h"

namespace dive::test {

namespace {
constexpr double kRelTol = 1e-4;
constexpr double kZeroGradFraction = 1e-6;
}  // namespace

DetFixture load_det_fixture(const std::string& dir, const std::string& name) {
  DetFixture x;
  model::OptionSet o;
  model::add_model_options(o, x.cfg);
  o.load_ini(dir + name + ".ini");
  x.expected = io::load_safetensors(dir + name + ".expected.safetensors", kCPU).tensors;
  x.batch = dir + name + ".batch.safetensors";
  return x;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::vector<double> host_f64(const Tensor& t) { return t.to(kCPU).to(DType::f64).contiguous().to_vector<double>(); }

double l2(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// (||x||, <x,P1>, <x,P2>) in f64, as det_init.summary
std::array<double, 3> summary(const Tensor& t) {
  std::vector<double> v = host_f64(t);
  double p1 = 0, p2 = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    p1 += v[i] * std::sin(0.3 * double(i) + 0.1);
    p2 += v[i] * std::cos(0.17 * double(i));
  }
  return {l2(v), p1, p2};
}

uint64_t mix64(uint64_t x) {  // splitmix64's finaliser, as det_init.mix64
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// (<x,R1>, <x,R2>), R_j[i] = 1 - 2 * (mix64(2i + j - 1) >> 63), as det_init.sign_projections
std::array<double, 2> sign_projections(const Tensor& t) {
  std::vector<double> v = host_f64(t);
  std::array<double, 2> p{0, 0};
  for (size_t i = 0; i < v.size(); ++i)
    for (int j = 0; j < 2; ++j) p[j] += (mix64(2 * uint64_t(i) + uint64_t(j)) >> 63) ? -v[i] : v[i];
  return p;
}

double rel_error(const Tensor& got, const Tensor& exp) {
  std::vector<double> a = host_f64(got), e = host_f64(exp);
  BOOST_TEST_REQUIRE(a.size() == e.size());
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += (a[i] - e[i]) * (a[i] - e[i]);
  return std::sqrt(d) / std::max(l2(e), 1e-30);
}

void check_det_fixture(const DetFixture& f, Device dev, DType dt, const std::string& label, int min_grads) {
  const bool f64 = dt == DType::f64;
  const std::string what = dev.str() + (f64 ? " f64" : " f32");
  auto t0 = std::chrono::steady_clock::now();
  model::DiveModel m(f.cfg);
  tools::deterministic_init(m);
  if (f64) m.to(DType::f64);
  int compared = 0;
  auto compare = [&](const std::map<std::string, Tensor>& got, const std::string& prefix) {
    for (const auto& [key, g] : got) {
      if (starts_with(key, "grad.")) continue;
      auto it = f.expected.find(prefix + key);
      BOOST_TEST_REQUIRE((it != f.expected.end()), "fixture has no '" << prefix + key << "'");
      double tol = !f64 ? kRelTol : it->second.dtype() == DType::f64 ? 1e-8 : 1e-6;
      double err = rel_error(g, it->second);
      BOOST_TEST(err <= tol, what << ": '" << prefix + key << "' relative error " << err);
      ++compared;
    }
  };
  compare(tools::run_step(m, f.batch, dev, true), "eval.");  // leaves m unchanged
  BOOST_TEST(compared == 2);
  auto got = tools::run_step(m, f.batch, dev, false);
  compare(got, "");
  double total = 0;
  for (const auto& [k, e] : f.expected)
    if (starts_with(k, "gradsum.")) total += std::pow(e.to_vector<double>()[0], 2);
  total = std::sqrt(total);
  int n_grads = 0;
  double worst_norm = 0, worst_proj = 0;  // |difference| / ||r|| (or / total for zero gradients)
  double worst_sign = 0;                   // |<g - r, R>| / tol
  std::string worst_sign_name;
  for (const auto& [k, e] : f.expected) {
    if (!starts_with(k, "gradsum.")) continue;
    std::string name = k.substr(std::strlen("gradsum."));
    auto it = got.find("grad." + name);
    BOOST_TEST_REQUIRE((it != got.end()), what << ": no gradient for '" << name << "' from dive");
    std::vector<double> r = e.to_vector<double>();
    std::array<double, 3> s = summary(it->second);
    const bool zero = r[0] < kZeroGradFraction * total;
    const double scale = zero ? total : r[0];
    double tol = (f64 ? 1e-7 : kRelTol) * scale;
    if (!f64 && !zero) tol = std::max(tol, 10 * f.expected.at("gradnoise." + name).item<double>());
    const double sq = std::sqrt(double(it->second.numel()));
    worst_norm = std::max(worst_norm, std::fabs(s[0] - r[0]) / scale);
    BOOST_TEST(std::fabs(s[0] - r[0]) <= tol, what << ": '" << name << "' gradient norm " << s[0] << " vs " << r[0]
                                                   << ", tolerance " << tol << (zero ? " (zero gradient)" : ""));
    for (int j = 1; j <= 2; ++j) {
      worst_proj = std::max(worst_proj, std::fabs(s[j] - r[j]) / scale);
      BOOST_TEST(std::fabs(s[j] - r[j]) <= tol * sq, what << ": '" << name << "' gradient projection " << j << ": "
                                                          << s[j] << " vs " << r[j] << ", bound " << tol * sq);
    }
    std::vector<double> rp = f.expected.at("gradproj." + name).to_vector<double>();
    std::array<double, 2> sp = sign_projections(it->second);
    for (int j = 0; j < 2; ++j) {
      const double bound = std::min(5.0, sq) * tol;
      if (std::fabs(sp[j] - rp[j]) / tol > worst_sign) {
        worst_sign = std::fabs(sp[j] - rp[j]) / tol;
        worst_sign_name = name;
      }
      BOOST_TEST(std::fabs(sp[j] - rp[j]) <= bound, what << ": '" << name << "' sign projection " << j + 1 << ": "
                                                         << sp[j] << " vs " << rp[j] << ", bound " << bound);
    }
    ++n_grads;
  }
  size_t n_got = 0;
  for (const auto& [k, g] : got) n_got += starts_with(k, "grad.");
  BOOST_TEST(n_got == size_t(n_grads), what << ": dive gave " << n_got << " gradients, the fixture " << n_grads);
  BOOST_TEST(n_grads >= min_grads);
  BOOST_TEST(compared >= 2 + 11);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE(label << " on " << what << ": " << n_grads << " gradients, worst |d norm| / ||r|| "
                                        << worst_norm << ", worst |d proj| / ||r|| " << worst_proj
                                        << ", worst |<g - r, R>| / tol " << worst_sign << " (" << worst_sign_name << "); " << secs
                                        << " s (init, eval, train step)");
}

int check_init_bits(const std::map<std::string, Tensor>& expected, const std::map<std::string, Tensor>& sd) {
  int checked = 0;
  for (const auto& [k, e] : expected) {
    if (!starts_with(k, "initbits.")) continue;
    std::string key = k.substr(std::strlen("initbits."));
    auto it = sd.find(key);
    BOOST_TEST_REQUIRE((it != sd.end()), "model has no '" << key << "'");
    Tensor t = it->second.to(kCPU).contiguous();
    BOOST_TEST_REQUIRE((t.dtype() == DType::f32));
    const float* p = t.data<float>();
    uint64_t s1 = 0, s2 = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      uint32_t b;
      std::memcpy(&b, p + i, 4);
      s1 += b;
      s2 += uint64_t(b) * uint64_t(i + 1);
    }
    std::vector<int64_t> r = e.to_vector<int64_t>();
    BOOST_TEST(int64_t(s1) == r[0], "'" << key << "' differs from the PyTorch weights");
    BOOST_TEST(int64_t(s2) == r[1], "'" << key << "' differs from the PyTorch weights (order)");
    ++checked;
  }
  return checked;
}

}  // namespace dive::test
