// Options with the official names: flags, INI files, precedence, and clear errors.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>

#include "lib/core/error.h"
#include "model/config.h"

using namespace dive;

namespace {
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(flags_and_ini_with_command_line_winning) {
  std::string path = "/tmp/dive_config_test_" + std::to_string(::getpid()) + ".ini";
  {
    std::ofstream f(path);
    f << "# a comment\n[model]\nspm_depth = 2   # trailing comment\nmax_violation = false\ntemperature = 8.5\n";
  }
  model::ModelConfig c;
  model::OptionSet o;
  model::add_model_options(o, c);
  auto rest = o.parse_args({"--spm_depth", "3", "--config", path, "--img_num_embeds=2", "--no_spm_weight_sharing",
                            "positional"});
  BOOST_TEST(c.spm_depth == 3);  // the command line wins over the file, wherever --config appears
  BOOST_TEST(c.max_violation == false);
  BOOST_TEST(c.temperature == 8.5);
  BOOST_TEST(c.img_num_embeds == 2);
  BOOST_TEST(c.spm_weight_sharing == false);
  BOOST_TEST((rest == std::vector<std::string>{"positional"}));
  o.parse_args({"--max_violation"});
  BOOST_TEST(c.max_violation == true);
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(unknown_names_suggest_the_nearest) {
  model::ModelConfig c;
  model::OptionSet o;
  model::add_model_options(o, c);
  std::string m = message_of([&] { o.parse_args({"--spm_dept", "2"}); });
  BOOST_TEST(m.find("--spm_dept") != std::string::npos, m);
  BOOST_TEST(m.find("did you mean '--spm_depth'") != std::string::npos, m);
  std::string m2 = message_of([&] { o.load_ini_text("mmd_weigth = 0.1\n", "c.ini"); });
  BOOST_TEST(m2.find("c.ini:1") != std::string::npos, m2);
  BOOST_TEST(m2.find("mmd_weight") != std::string::npos, m2);
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_option_and_the_type) {
  model::ModelConfig c;
  model::OptionSet o;
  model::add_model_options(o, c);
  std::string m = message_of([&] { o.parse_args({"--spm_depth", "four"}); });
  BOOST_TEST(m.find("spm_depth") != std::string::npos, m);
  BOOST_TEST(m.find("integer") != std::string::npos, m);
  m = message_of([&] { o.parse_args({"--loss", "cosine"}); });
  BOOST_TEST(m.find("smooth_chamfer") != std::string::npos, m);
  m = message_of([&] { o.load_ini_text("max_violation = maybe\n", "x.ini"); });
  BOOST_TEST(m.find("true or false") != std::string::npos, m);
  m = message_of([&] { o.load_ini_text("just words\n", "x.ini"); });
  BOOST_TEST(m.find("name = value") != std::string::npos, m);
  m = message_of([&] { o.parse_args({"--margin"}); });
  BOOST_TEST(m.find("expects a value") != std::string::npos, m);
  c.spm_depth = 0;
  BOOST_CHECK_THROW(model::validate(c), Error);
}

BOOST_AUTO_TEST_CASE(dump_round_trips) {
  model::ModelConfig a, b;
  model::OptionSet oa, ob;
  model::add_model_options(oa, a);
  model::add_model_options(ob, b);
  oa.parse_args({"--spm_depth", "7", "--pad_mask", "strict", "--temperature", "3.25", "--margin", "0.123456789012345"});
  ob.load_ini_text(oa.dump(), "dump");
  BOOST_TEST(b.spm_depth == 7);
  BOOST_TEST(b.pad_mask == "strict");
  BOOST_TEST(b.temperature == 3.25);
  BOOST_TEST(b.margin == 0.123456789012345);
}

BOOST_AUTO_TEST_SUITE_END()
