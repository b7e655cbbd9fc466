// safetensors read/write: round trips, format compatibility, atomic writes, malformed files.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "test/test_util.h"
#include "lib/io/safetensors.h"

namespace fs = std::filesystem;
using dive::DType;
using dive::Shape;
using dive::Tensor;
using dive::io::load_safetensors;
using dive::io::save_safetensors;

namespace {

using dive::test::read_bytes;
using dive::test::write_bytes;
struct TmpDir : dive::test::TempDir {
  explicit TmpDir(const std::string& tag = "x") : dive::test::TempDir("safetensors_" + tag) {}
};




std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return s;
}

// u64 header length + header + data, as a safetensors writer lays it out.
std::string make_file(const std::string& header, const std::string& data) {
  return u64le(header.size()) + header + data;
}

std::string f32_bytes(std::vector<float> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Row-major bytes of any host tensor.
std::string bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.raw_data()), c.nbytes());
}

template <class T>
Tensor raw(const std::vector<T>& v, const Shape& shape, DType dt) {
  return Tensor::from_raw(v.data(), shape, dt);
}

// Runs `fn`, expects a dive::Error whose message names `file` and contains `word`.
template <class F>
void expect_error(const std::string& file, const std::string& word, F fn) {
  try {
    fn();
    BOOST_ERROR("expected dive::Error mentioning '" << word << "', nothing was thrown");
  } catch (const dive::Error& e) {
    std::string msg = e.what();
    BOOST_TEST_MESSAGE("error: " << msg);
    BOOST_CHECK_MESSAGE(msg.find(fs::path(file).filename().string()) != std::string::npos,
                        "message does not name the file: " << msg);
    BOOST_CHECK_MESSAGE(msg.find(word) != std::string::npos, "message lacks '" << word << "': " << msg);
  }
}

// Writes `bytes` to `name` in a fresh temp dir and expects loading to fail with `word`.
void expect_load_error(const std::string& name, const std::string& bytes, const std::string& word) {
  TmpDir d;
  std::string p = d.path(name);
  write_bytes(p, bytes);
  expect_error(p, word, [&] { load_safetensors(p); });
}

const std::string kGood = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

}  // namespace

BOOST_AUTO_TEST_SUITE(safetensors)

// ---- format compatibility -----------------------------------------------------------------------

// What Python's safetensors.torch.save_file({"a": torch.tensor([1., 2.])}) writes: a u64 length,
// compact JSON padded with spaces to a multiple of 8, then the little-endian data.
BOOST_AUTO_TEST_CASE(python_fixture) {
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  BOOST_REQUIRE_EQUAL(header.size(), 54u);
  header += "  ";  // padded to 56
  std::string fixture = std::string("\x38\0\0\0\0\0\0\0", 8) + header +
                        std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f
  TmpDir d;
  std::string p = d.path("py.safetensors");
  write_bytes(p, fixture);
  auto f = load_safetensors(p);
  BOOST_REQUIRE_EQUAL(f.tensors.size(), 1u);
  BOOST_TEST(f.metadata.empty());
  const Tensor& a = f.tensors.at("a");
  BOOST_TEST((a.dtype() == DType::f32));
  BOOST_TEST(a.shape() == Shape({2}), boost::test_tools::per_element());
  BOOST_TEST(a.to_vector<float>() == std::vector<float>({1.f, 2.f}), boost::test_tools::per_element());

  // Our writer produces the very same bytes.
  std::string q = d.path("ours.safetensors");
  save_safetensors(q, {{"a", Tensor::from_vector<float>({1.f, 2.f}, {2})}});
  BOOST_TEST(read_bytes(q) == fixture);
}

BOOST_AUTO_TEST_CASE(header_padded_and_names_sorted) {
  TmpDir d;
  std::string p = d.path("sorted.safetensors");
  save_safetensors(p, {{"zeta", Tensor::ones({3})}, {"alpha", Tensor::zeros({1}, DType::i64)}},
                   {{"format", "pt"}});
  std::string b = read_bytes(p);
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  BOOST_TEST(n % 8 == 0u);
  std::string header = b.substr(8, n);
  BOOST_TEST(header.find("__metadata__") < header.find("\"alpha\""));
  BOOST_TEST(header.find("\"alpha\"") < header.find("\"zeta\""));
  BOOST_TEST(header.find(R"("alpha":{"dtype":"I64","shape":[1],"data_offsets":[0,8]})") != std::string::npos);
  BOOST_TEST(header.find(R"("zeta":{"dtype":"F32","shape":[3],"data_offsets":[8,20]})") != std::string::npos);
  BOOST_TEST(b.size() == 8 + n + 20);
}

// ---- round trips ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(round_trip_every_dtype) {
  const float inf = std::numeric_limits<float>::infinity();
  std::map<std::string, Tensor> in = {
      {"f32", Tensor::from_vector<float>({1.5f, -0.0f, inf, -inf, 1e-38f, 3.4e38f}, {2, 3})},
      {"f64", Tensor::from_vector<double>({1.0 / 3.0, -2.5e300, 4.9e-324}, {3})},
      // f16: 1.0, -2.0, smallest subnormal, inf, NaN, max; bf16: 1.0, -2.0, 3.14, inf, NaN, tiny
      {"f16", raw<uint16_t>({0x3c00, 0xc000, 0x0001, 0x7c00, 0x7e01, 0x7bff}, {3, 2}, DType::f16)},
      {"bf16", raw<uint16_t>({0x3f80, 0xc000, 0x4049, 0x7f80, 0x7fc1, 0x0001}, {6}, DType::bf16)},
      {"i64", Tensor::from_vector<int64_t>({(int64_t(1) << 53) + 1, -1, std::numeric_limits<int64_t>::min()}, {3})},
      {"i32", Tensor::from_vector<int32_t>({-7, 0, std::numeric_limits<int32_t>::max(), 42}, {2, 2})},
      {"u8", Tensor::from_vector<uint8_t>({0, 1, 127, 255}, {4})},
      {"bool", raw<uint8_t>({1, 0, 0, 1, 1}, {5}, DType::boolean)},
  };
  TmpDir d;
  std::string p = d.path("all.safetensors");
  save_safetensors(p, in);
  auto f = load_safetensors(p);
  BOOST_REQUIRE_EQUAL(f.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    BOOST_TEST_CONTEXT("tensor " << name) {
      const Tensor& u = f.tensors.at(name);
      BOOST_TEST(std::string(dive::dtype_name(u.dtype())) == dive::dtype_name(t.dtype()));
      BOOST_TEST(u.shape() == t.shape(), boost::test_tools::per_element());
      BOOST_TEST(u.device().str() == "cpu");
      BOOST_TEST(bytes_of(u) == bytes_of(t));  // bit-exact, NaN payloads included
    }
  }
}

BOOST_AUTO_TEST_CASE(load_to_other_host_device) {
  TmpDir d;
  std::string p = d.path("ref.safetensors");
  save_safetensors(p, {{"w", Tensor::from_vector<float>({1, 2, 3}, {3})}});
  auto f = load_safetensors(p, dive::kRef);
  BOOST_TEST(f.tensors.at("w").device().str() == "ref");
  BOOST_TEST(f.tensors.at("w").to_vector<float>() == std::vector<float>({1, 2, 3}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_tensors_and_scalars) {
  std::map<std::string, Tensor> in = {
      {"empty", Tensor::zeros({0})},
      {"empty3", Tensor::zeros({2, 0, 3}, DType::i64)},
      {"scalar", Tensor::scalar(7.25)},
      {"scalar_i32", Tensor::scalar(-3, DType::i32)},
  };
  TmpDir d;
  std::string p = d.path("empty.safetensors");
  save_safetensors(p, in);
  auto f = load_safetensors(p);
  for (const auto& [name, t] : in) {
    BOOST_TEST_CONTEXT("tensor " << name) {
      const Tensor& u = f.tensors.at(name);
      BOOST_TEST(std::string(dive::dtype_name(u.dtype())) == dive::dtype_name(t.dtype()));
      BOOST_TEST(u.dim() == t.dim());
      BOOST_TEST(u.shape() == t.shape(), boost::test_tools::per_element());
      BOOST_TEST(bytes_of(u) == bytes_of(t));
    }
  }
  BOOST_TEST(f.tensors.at("scalar").item<float>() == 7.25f);

  // A file with no tensors at all.
  std::string q = d.path("none.safetensors");
  save_safetensors(q, {});
  BOOST_TEST(load_safetensors(q).tensors.empty());
}

BOOST_AUTO_TEST_CASE(metadata_round_trip) {
  std::map<std::string, std::string> meta = {
      {"format", "pt"}, {"epoch", "12"}, {"quote\"and\\slash", "line\nbreak\ttab"},
      {"utf8", "caf\xc3\xa9 \xe2\x9c\x93"}, {"empty", ""}};
  TmpDir d;
  std::string p = d.path("meta.safetensors");
  save_safetensors(p, {{"x", Tensor::ones({2})}}, meta);
  auto f = load_safetensors(p);
  BOOST_TEST(f.metadata == meta);
  BOOST_TEST(f.tensors.size() == 1u);
}

BOOST_AUTO_TEST_CASE(non_contiguous_inputs) {
  Tensor base = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor bf = raw<uint16_t>({0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0, 0x40c0}, {2, 3}, DType::bf16);
  std::map<std::string, Tensor> in = {
      {"transposed", base.t()},                                                // [3, 2]
      {"stepped", base.slice(1, 0, 3, 2)},                                     // [2, 2]
      {"expanded", Tensor::from_vector<float>({1, 2, 3}, {1, 3}).expand({2, 3})},
      {"row", base.select(0, 1)},                                              // offset view
      {"bf16_t", bf.t()},
  };
  BOOST_TEST(!in.at("transposed").is_contiguous());
  TmpDir d;
  std::string p = d.path("strided.safetensors");
  save_safetensors(p, in);
  auto f = load_safetensors(p);
  auto vec = [&](const char* n) { return f.tensors.at(n).to_vector<float>(); };
  BOOST_TEST(vec("transposed") == std::vector<float>({0, 3, 1, 4, 2, 5}), boost::test_tools::per_element());
  BOOST_TEST(vec("stepped") == std::vector<float>({0, 2, 3, 5}), boost::test_tools::per_element());
  BOOST_TEST(vec("expanded") == std::vector<float>({1, 2, 3, 1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(vec("row") == std::vector<float>({3, 4, 5}), boost::test_tools::per_element());
  BOOST_TEST(f.tensors.at("transposed").shape() == Shape({3, 2}), boost::test_tools::per_element());
  std::vector<uint16_t> expect_bf = {0x3f80, 0x4080, 0x4000, 0x40a0, 0x4040, 0x40c0};
  BOOST_TEST(bytes_of(f.tensors.at("bf16_t")) ==
             std::string(reinterpret_cast<const char*>(expect_bf.data()), 12));
}

// ---- atomic writes --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(atomic_write_replaces_and_leaves_no_temp) {
  TmpDir d;
  std::string p = d.path("model.safetensors");
  write_bytes(p, "old contents that are not safetensors");
  save_safetensors(p, {{"w", Tensor::full({4}, 2.0)}});
  auto f = load_safetensors(p);
  BOOST_TEST(f.tensors.at("w").to_vector<float>() == std::vector<float>(4, 2.0f), boost::test_tools::per_element());
  save_safetensors(p, {{"v", Tensor::full({2}, 3.0)}});  // replaced again
  f = load_safetensors(p);
  BOOST_TEST(f.tensors.size() == 1u);
  BOOST_TEST(f.tensors.count("v") == 1u);
  int files = 0;
  for (const auto& e : fs::directory_iterator(d.dir)) {
    ++files;
    BOOST_TEST(e.path().filename().string().find(".tmp.") == std::string::npos);
  }
  BOOST_TEST(files == 1);
}

BOOST_AUTO_TEST_CASE(failed_write_keeps_old_file_and_no_temp) {
  TmpDir d;
  std::string p = d.path("keep.safetensors");
  save_safetensors(p, {{"w", Tensor::ones({2})}});
  std::string before = read_bytes(p);
  // A reserved name is refused before anything is written.
  expect_error(p, "__metadata__", [&] { save_safetensors(p, {{"__metadata__", Tensor::ones({1})}}); });
  // The target is a directory: the rename fails after the temp file was written.
  std::string dirpath = d.path("adir.safetensors");
  fs::create_directories(fs::path(dirpath) / "child");
  expect_error(dirpath, "rename", [&] { save_safetensors(dirpath, {{"w", Tensor::ones({2})}}); });
  // The directory does not exist: the temp file cannot be created.
  std::string missing = d.path("no/such/dir/x.safetensors");
  expect_error(missing, "cannot create", [&] { save_safetensors(missing, {{"w", Tensor::ones({2})}}); });
  BOOST_TEST(read_bytes(p) == before);
  for (const auto& e : fs::directory_iterator(d.dir))
    BOOST_TEST(e.path().filename().string().find(".tmp.") == std::string::npos);
}

// ---- malformed files: each must throw dive::Error naming the file and the problem -----------------

BOOST_AUTO_TEST_CASE(missing_file) {
  TmpDir d;
  std::string p = d.path("does_not_exist.safetensors");
  expect_error(p, "cannot open", [&] { load_safetensors(p); });
}

BOOST_AUTO_TEST_CASE(unreadable_directory) {
  TmpDir d;
  std::string p = d.path("a_directory.safetensors");
  fs::create_directories(p);
  expect_error(p, "not a regular file", [&] { load_safetensors(p); });
}

BOOST_AUTO_TEST_CASE(file_too_short) {
  expect_load_error("short.safetensors", "", "too short");
  expect_load_error("short7.safetensors", std::string("\x08\0\0\0\0\0\0", 7), "too short");
}

BOOST_AUTO_TEST_CASE(header_length_beyond_file) {
  expect_load_error("hlen.safetensors", u64le(1000) + "{}", "exceeds the file size");
  expect_load_error("hlen_max.safetensors", u64le(~uint64_t(0)) + "{}", "absurd");
}

BOOST_AUTO_TEST_CASE(header_length_absurd) {
  expect_load_error("huge.safetensors", u64le(200'000'000) + std::string(64, ' '), "absurd");
}

BOOST_AUTO_TEST_CASE(header_not_json) {
  expect_load_error("badjson.safetensors", make_file(R"({"a": {"dtype": )", ""), "not valid JSON");
  expect_load_error("garbage.safetensors", make_file("\xff\xfe\x01garbage", ""), "not valid JSON");
  expect_load_error("badutf8.safetensors", make_file("{\"\xc3\x28\":{}}", ""), "not valid JSON");
}

BOOST_AUTO_TEST_CASE(header_not_object) {
  expect_load_error("array.safetensors", make_file("[1, 2, 3]", ""), "not a JSON object");
  expect_load_error("string.safetensors", make_file(R"("hello")", ""), "not a JSON object");
}

BOOST_AUTO_TEST_CASE(entry_not_object) {
  expect_load_error("entry.safetensors", make_file(R"({"a": [1, 2]})", ""), "not a JSON object");
}

BOOST_AUTO_TEST_CASE(entry_missing_fields) {
  std::string d8 = f32_bytes({1, 2});
  expect_load_error("nodtype.safetensors", make_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", d8), "missing 'dtype'");
  expect_load_error("noshape.safetensors", make_file(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", d8), "missing 'shape'");
  expect_load_error("nooffsets.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2]}})", d8), "missing 'data_offsets'");
}

BOOST_AUTO_TEST_CASE(entry_wrong_json_types) {
  std::string d8 = f32_bytes({1, 2});
  expect_load_error("dtypenum.safetensors", make_file(R"({"a":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", d8), "wrong type");
  expect_load_error("shapestr.safetensors", make_file(R"({"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", d8), "wrong type");
  expect_load_error("offstr.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":"0-8"}})", d8), "invalid data_offsets");
  expect_load_error("offnum.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})", d8), "not an integer");
}

BOOST_AUTO_TEST_CASE(unknown_dtype) {
  expect_load_error("i8.safetensors", make_file(R"({"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}})", "ab"), "unknown dtype 'I8'");
  expect_load_error("fp8.safetensors", make_file(R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", "a"), "F8_E4M3");
}

BOOST_AUTO_TEST_CASE(negative_shape_dim) {
  expect_load_error("negdim.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32_bytes({1, 2})), "negative");
}

BOOST_AUTO_TEST_CASE(non_integer_shape_dim) {
  std::string d8 = f32_bytes({1, 2});
  expect_load_error("fracdim.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", d8), "not an integer");
  expect_load_error("strdim.safetensors", make_file(R"({"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", d8), "not an integer");
  expect_load_error("hugedim.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", d8), "too large");
}

BOOST_AUTO_TEST_CASE(bad_offsets) {
  std::string d8 = f32_bytes({1, 2});
  expect_load_error("off1.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", d8), "invalid data_offsets");
  expect_load_error("off3.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", d8), "invalid data_offsets");
  expect_load_error("offrev.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", d8), "invalid data_offsets");
  expect_load_error("offneg.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", d8), "negative");
}

BOOST_AUTO_TEST_CASE(truncated_data) {
  expect_load_error("trunc.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f32_bytes({1}).substr(0, 4)), "truncated");
  expect_load_error("trunc_far.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}})", ""), "truncated");
  // A real file cut short in the data.
  TmpDir d;
  std::string p = d.path("cut.safetensors");
  save_safetensors(p, {{"w", Tensor::ones({16})}});
  std::string b = read_bytes(p);
  write_bytes(p, b.substr(0, b.size() - 5));
  expect_error(p, "truncated", [&] { load_safetensors(p); });
}

BOOST_AUTO_TEST_CASE(byte_count_mismatch) {
  std::string d = f32_bytes({1, 2, 3});
  expect_load_error("count.safetensors", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}})", d), "byte count mismatch");
  expect_load_error("count16.safetensors", make_file(R"({"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,12]}})", d), "byte count mismatch");
  // numel overflows 64 bits: must be a clean error, not a wrap-around match.
  expect_load_error("overflow.safetensors",
                    make_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}})", ""),
                    "byte count mismatch");
}

BOOST_AUTO_TEST_CASE(overlapping_tensors) {
  std::string d = f32_bytes({1, 2, 3});
  expect_load_error("overlap.safetensors",
                    make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", d),
                    "overlap");
  expect_load_error("same.safetensors",
                    make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", d),
                    "overlap");
}

BOOST_AUTO_TEST_CASE(metadata_not_strings) {
  std::string d8 = f32_bytes({1, 2});
  expect_load_error("metanum.safetensors", make_file(R"({"__metadata__":{"epoch":12},"a":)" + kGood + "}", d8), "not a string");
  expect_load_error("metaobj.safetensors", make_file(R"({"__metadata__":{"k":{"x":"y"}},"a":)" + kGood + "}", d8), "not a string");
  expect_load_error("metaarr.safetensors", make_file(R"({"__metadata__":["a"],"a":)" + kGood + "}", d8), "__metadata__");
}

BOOST_AUTO_TEST_CASE(well_formed_handmade_files_load) {
  TmpDir d;
  // Metadata, spaces, two tensors out of name order, header not padded: all legal.
  std::string p = d.path("hand.safetensors");
  write_bytes(p, make_file(R"( {"__metadata__": {"format": "np"}, "b": {"dtype": "I32", "shape": [1], "data_offsets": [8, 12]}, "a": )" + kGood + "}",
                           f32_bytes({1, 2}) + std::string("\x05\0\0\0", 4)));
  auto f = load_safetensors(p);
  BOOST_TEST(f.metadata.at("format") == "np");
  BOOST_TEST(f.tensors.at("a").to_vector<float>() == std::vector<float>({1, 2}), boost::test_tools::per_element());
  BOOST_TEST(f.tensors.at("b").item<int32_t>() == 5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(safetensors_metadata_only)

BOOST_AUTO_TEST_CASE(reads_the_header_without_the_tensors) {
  dive::test::TempDir d("st_meta");
  std::string p = d.path("m.safetensors");
  dive::io::save_safetensors(p, {{"w", dive::Tensor::zeros({3, 4})}}, {{"epoch", "7"}, {"options", "a = 1\nb = 2\n"}});
  auto meta = dive::io::load_safetensors_metadata(p);
  BOOST_TEST(meta.at("epoch") == "7");
  BOOST_TEST(meta.at("options") == "a = 1\nb = 2\n");
  dive::test::write_bytes(d.path("short.safetensors"), std::string("\x10\x00\x00\x00\x00\x00\x00\x00{}", 10));
  BOOST_CHECK_THROW(dive::io::load_safetensors_metadata(d.path("short.safetensors")), dive::Error);
  BOOST_CHECK_THROW(dive::io::load_safetensors_metadata(d.path("missing.safetensors")), dive::Error);
}

BOOST_AUTO_TEST_SUITE_END()
