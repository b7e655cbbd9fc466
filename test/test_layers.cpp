// The layer map of docs/ARCHITECTURE.md, enforced: every #include of lib/, model/, data/, tools/, bench/
// and test/ is checked against the layers it may not name, and lib/core is checked for symbols of the
// layers above it (they reach lib/core through lib/core/hooks.h instead). Also: an op family has one
// file name in every layer (lib/ops/op_list.def's DIVE_FAMILY lines).
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <regex>
#include <string>
#include <vector>

#include "lib/ops/dispatch.h"

#ifndef DIVE_SOURCE_ROOT
#define DIVE_SOURCE_ROOT "."
#endif

namespace fs = std::filesystem;

namespace {

struct Rule {
  std::string from;                    // folder of the including file
  std::vector<std::string> forbidden;  // include prefixes it must not use
  std::vector<std::string> allowed;    // exceptions within the forbidden prefixes
};

const std::vector<Rule>& rules() {
  static const std::vector<std::string> above_lib = {"model/", "data/", "tools/", "bench/", "test/"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  static const std::vector<Rule> r = {
      {"lib/core/", with({"lib/ops/", "lib/autograd/", "lib/backend/", "lib/io/", "lib/nn/", "lib/optim/"}, above_lib), {}},
      {"lib/autograd/", with({"lib/ops/", "lib/backend/", "lib/io/", "lib/nn/", "lib/optim/"}, above_lib), {}},
      // a backend sees only the kernel interface of lib/ops (the table, its arguments, the op list)
      {"lib/backend/", with({"lib/ops/", "lib/autograd/", "lib/io/", "lib/nn/", "lib/optim/"}, above_lib),
       {"lib/ops/dispatch.h", "lib/ops/op_list.def", "lib/ops/attrs.h"}},
      {"lib/ops/", with({"lib/backend/", "lib/io/", "lib/nn/", "lib/optim/"}, above_lib), {}},
      {"lib/io/", with({"lib/ops/", "lib/autograd/", "lib/backend/", "lib/nn/", "lib/optim/"}, above_lib), {}},
      {"lib/nn/", with({"lib/backend/", "lib/optim/"}, above_lib), {}},
      {"lib/optim/", with({"lib/backend/", "lib/nn/"}, above_lib), {}},
      {"model/", {"lib/backend/", "data/", "tools/", "bench/", "test/"}, {}},
      {"data/", {"lib/backend/", "model/", "tools/", "bench/", "test/"}, {}},
      {"tools/run/", {"tools/dive/", "bench/", "test/"}, {}},
      // tests and benchmarks use the libraries, never a subcommand (they run the dive binary instead)
      {"test/", {"tools/dive/"}, {}},
      {"bench/", {"tools/dive/", "test/"}, {}},
  };
  return r;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::vector<fs::path> sources(const fs::path& root) {
  std::vector<fs::path> out;
  for (const char* top : {"lib", "model", "data", "tools", "bench", "test"}) {
    if (!fs::exists(root / top)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".h" || ext == ".cpp" || ext == ".cu" || ext == ".cuh" || ext == ".def"))
        out.push_back(e.path());
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(layers)

BOOST_AUTO_TEST_CASE(no_include_points_up_the_layer_map) {
  const fs::path root = DIVE_SOURCE_ROOT;
  const std::regex include_re(R"(^\s*#\s*include\s*"([^"]+)\")");
  size_t files = 0, includes = 0;
  for (const fs::path& p : sources(root)) {
    const std::string rel = fs::relative(p, root).generic_string();
    std::ifstream f(p);
    std::string line;
    for (int n = 1; std::getline(f, line); ++n) {
      std::smatch m;
      if (!std::regex_search(line, m, include_re)) continue;
      ++includes;
      const std::string inc = m[1];
      for (const Rule& r : rules()) {
        if (!starts_with(rel, r.from)) continue;
        bool allowed = std::find(r.allowed.begin(), r.allowed.end(), inc) != r.allowed.end();
        for (const std::string& bad : r.forbidden)
          BOOST_TEST(!(starts_with(inc, bad) && !allowed),
                     rel << ":" << n << ": includes \"" << inc << "\" but " << r.from << " may not name " << bad);
      }
    }
    ++files;
  }
  BOOST_TEST(files > 100u, "found only " << files << " sources under " << root);
  BOOST_TEST(includes > 400u);
}

BOOST_AUTO_TEST_CASE(lib_core_names_no_symbol_of_a_higher_layer) {
  const fs::path root = DIVE_SOURCE_ROOT;
  const std::regex symbol_re(R"(\b(dispatch\s*\(|OpId|KernelArgs|autograd::|GradMode|run_backward|cuda::|dnnl|ops::))");
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(root / "lib" / "core")) {
    std::ifstream f(e.path());
    std::string line;
    for (int n = 1; std::getline(f, line); ++n) {
      std::string code = line.substr(0, line.find("//"));  // comments may mention the other layers
      std::smatch m;
      if (!std::regex_search(code, m, symbol_re)) continue;
      const std::string symbol = m.str();
      BOOST_ERROR("lib/core/" << e.path().filename().string() << ":" << n << ": names '" << symbol << "'");
    }
    ++files;
  }
  BOOST_TEST(files >= 10u);
}

// Every family of the op list has its file in lib/ops and in each backend, and every kernel a backend
// registers (`kernels[int(OpId::x)] = ...`, `K(OpId::x, ...)`, DIVE_REF_FLOAT_KERNEL(t, x, ...)) sits in
// the file of x's family or in a helper file named <family>_*.
BOOST_AUTO_TEST_CASE(op_families_have_one_name_in_every_layer) {
  const fs::path root = DIVE_SOURCE_ROOT;
  std::map<std::string, std::string> family_of;
  std::set<std::string> families;
  for (int i = 0; i < dive::kNumOps; ++i) {
    family_of[dive::op_name(dive::OpId(i))] = dive::op_family(dive::OpId(i));
    families.insert(dive::op_family(dive::OpId(i)));
  }
  BOOST_TEST(families.size() >= 10u);
  const std::vector<std::pair<std::string, std::string>> layers = {
      {"lib/ops", ".cpp"}, {"lib/backend/ref", ".cpp"}, {"lib/backend/cpu", ".cpp"}, {"lib/backend/cuda", ".cu"}};
  for (const std::string& f : families)
    for (const auto& [dir, ext] : layers) {
      if (dir == "lib/ops" && f == "copy") continue;  // Tensor members (lib/core/tensor_views.cpp, ops/core_hooks.cpp)
      BOOST_TEST(fs::exists(root / dir / (f + ext)), "op family '" << f << "' has no " << dir << "/" << f << ext);
    }
  const std::regex reg_re(R"((?:kernels\[int\(OpId::(\w+)\)\]\s*=|\bK\(OpId::(\w+)|DIVE_REF_FLOAT_KERNEL\(t, (\w+)))");
  size_t checked = 0;
  for (const auto& [dir, ext] : layers) {
    if (dir == "lib/ops") continue;
    for (const auto& e : fs::directory_iterator(root / dir)) {
      const std::string stem = e.path().stem().string();
      std::ifstream in(e.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        for (std::sregex_iterator it(line.begin(), line.end(), reg_re), end; it != end; ++it) {
          std::string op = (*it)[1].matched ? (*it)[1] : (*it)[2].matched ? (*it)[2] : (*it)[3];
          auto fam = family_of.find(op);
          if (fam == family_of.end()) continue;  // a macro parameter, not an op name
          ++checked;
          const std::string& f = fam->second;
          BOOST_TEST((stem == f || stem.rfind(f + "_", 0) == 0),
                     dir << "/" << e.path().filename().string() << ":" << n << " registers '" << op
                         << "' of family '" << f << "' (belongs in " << dir << "/" << f << ext << ")");
        }
      }
    }
  }
  BOOST_TEST(checked > 100u);
}

// Small files with one purpose: no source file of the repository over 500 lines.
BOOST_AUTO_TEST_CASE(no_source_file_over_500_lines) {
  size_t files = 0;
  for (const fs::path& p : sources(DIVE_SOURCE_ROOT)) {
    std::ifstream in(p);
    size_t lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    BOOST_TEST(lines <= 500u, fs::relative(p, DIVE_SOURCE_ROOT).generic_string() << " has " << lines << " lines");
    ++files;
  }
  BOOST_TEST(files > 100u);
}

BOOST_AUTO_TEST_SUITE_END()
