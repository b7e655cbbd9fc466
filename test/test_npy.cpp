// .npy read/write: round trips for every dtype and rank, NumPy-written bytes, v2/v3 headers, the
// memory map, and every malformed case (each error must name the file and the problem).
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test/test_util.h"
#include "lib/io/npy.h"

namespace fs = std::filesystem;
using dive::DType;
using dive::Shape;
using dive::Tensor;
namespace io = dive::io;

namespace {

using dive::test::read_bytes;
using dive::test::write_bytes;
struct TmpDir : dive::test::TempDir {
  explicit TmpDir(const std::string& tag = "x") : dive::test::TempDir("npy_" + tag) {}
};




// A .npy file with the given header dict (padded to 64 bytes) and data, as NumPy lays it out.
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string h = dict;
  size_t pre = major == 1 ? 10 : 12;
  h.append((64 - (pre + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string s = "\x93NUMPY";
  s += char(major);
  s += char(0);
  for (size_t b = 0; b < (major == 1 ? 2u : 4u); ++b) s += char((h.size() >> (8 * b)) & 0xff);
  return s + h + data;
}

std::string f32_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

void expect_error(const std::string& path, const std::string& needle, bool map_too = true) {
  try {
    io::load_npy(path);
    BOOST_ERROR("no error for " << path << " (expected '" << needle << "')");
  } catch (const dive::Error& e) {
    std::string msg = e.what();
    BOOST_TEST_INFO("message: " << msg);
    BOOST_CHECK(msg.find(path) != std::string::npos);
    BOOST_CHECK(msg.find(needle) != std::string::npos);
  }
  if (map_too) BOOST_CHECK_THROW(io::NpyMap::open(path), dive::Error);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(npy)

BOOST_AUTO_TEST_CASE(round_trip_all_dtypes_and_ranks) {
  TmpDir tmp;
  std::vector<Shape> shapes = {{}, {0}, {5}, {2, 3}, {2, 3, 4}, {1, 0, 3}};
  for (DType dt : {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::boolean}) {
    for (const Shape& sh : shapes) {
      Tensor t = Tensor::rand(sh, 0, 2, DType::f64).to(dt);
      std::string p = tmp.path("rt.npy");
      io::save_npy(p, t);
      BOOST_CHECK_EQUAL(read_bytes(p).size() % 64, size_t(t.nbytes()) % 64);  // data starts at 64k
      Tensor u = io::load_npy(p);
      BOOST_TEST_INFO(dive::dtype_name(dt) << dive::shape_str(sh));
      BOOST_CHECK(u.dtype() == dt);
      BOOST_CHECK(u.shape() == sh);
      BOOST_CHECK(std::memcmp(u.contiguous().raw_data(), t.contiguous().raw_data(), t.nbytes()) == 0);
      io::NpyInfo info = io::read_npy_info(p);
      BOOST_CHECK_EQUAL(info.data_offset % 64, 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(strided_tensor_is_gathered) {
  TmpDir tmp;
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).t();
  io::save_npy(tmp.path("t.npy"), t);
  BOOST_CHECK((io::load_npy(tmp.path("t.npy")).to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6}));
}

BOOST_AUTO_TEST_CASE(header_text_matches_numpy) {
  TmpDir tmp;
  io::save_npy(tmp.path("a.npy"), Tensor::zeros({3}, DType::f32));
  std::string s = read_bytes(tmp.path("a.npy"));
  BOOST_CHECK_EQUAL(s.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  BOOST_CHECK(s.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") != std::string::npos);
  BOOST_CHECK_EQUAL(s[127], '\n');  // header ends at byte 128
  BOOST_CHECK_EQUAL(s.size(), 128u + 12u);
}

BOOST_AUTO_TEST_CASE(reads_v2_v3_and_numpy_variants) {
  TmpDir tmp;
  std::string data = f32_bytes({1, 2, 3, 4, 5, 6});
  for (int major : {1, 2, 3}) {
    write_bytes(tmp.path("v.npy"), make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, major));
    Tensor t = io::load_npy(tmp.path("v.npy"));
    BOOST_CHECK(t.shape() == (Shape{2, 3}));
    BOOST_CHECK_EQUAL(t.to_vector<float>()[5], 6.0f);
  }
  // Key order, double quotes, Python 2 longs, no trailing comma, '=' and '|' byte orders.
  write_bytes(tmp.path("w.npy"), make_npy("{\"shape\": (2L, 3L), \"fortran_order\": False, \"descr\": \"=f4\"}", data));
  BOOST_CHECK(io::load_npy(tmp.path("w.npy")).shape() == (Shape{2, 3}));
  write_bytes(tmp.path("u.npy"), make_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", "\x07\x09"));
  BOOST_CHECK((io::load_npy(tmp.path("u.npy")).to_vector<uint8_t>() == std::vector<uint8_t>{7, 9}));
  write_bytes(tmp.path("s.npy"), make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", std::string(8, '\0')));
  BOOST_CHECK(io::load_npy(tmp.path("s.npy")).shape() == Shape{});
  // Extra bytes after the data are ignored, as np.load does.
  write_bytes(tmp.path("x.npy"), make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data + "junk"));
  BOOST_CHECK_EQUAL(io::load_npy(tmp.path("x.npy")).numel(), 6);
}

BOOST_AUTO_TEST_CASE(memory_map_rows) {
  TmpDir tmp;
  Tensor t = Tensor::rand({7, 4, 3}, -1, 1);
  io::save_npy(tmp.path("m.npy"), t);
  io::NpyMap m = io::NpyMap::open(tmp.path("m.npy"));
  BOOST_CHECK(m.shape() == (Shape{7, 4, 3}));
  BOOST_CHECK(m.dtype() == DType::f32);
  BOOST_CHECK_EQUAL(m.rows(), 7);
  BOOST_CHECK_EQUAL(m.row_bytes(), 48u);
  std::vector<float> all = t.to_vector<float>();
  for (int64_t i = 0; i < 7; ++i)
    BOOST_CHECK(std::memcmp(m.row(i), all.data() + i * 12, 48) == 0);
  BOOST_CHECK_THROW(m.row(7), dive::Error);
  BOOST_CHECK_THROW(m.row(-1), dive::Error);
  io::NpyMap moved = std::move(m);  // the mapping follows the move
  BOOST_CHECK(std::memcmp(moved.row(6), all.data() + 72, 48) == 0);
}

BOOST_AUTO_TEST_CASE(malformed_files) {
  TmpDir tmp;
  std::string data = f32_bytes({1, 2, 3, 4, 5, 6});
  auto file = [&](const std::string& name, const std::string& bytes) {
    write_bytes(tmp.path(name), bytes);
    return tmp.path(name);
  };
  expect_error(tmp.path("missing.npy"), "cannot open");
  expect_error(file("magic.npy", "PK\x03\x04 not numpy at all"), "bad magic");
  expect_error(file("empty.npy", ""), "bad magic");
  std::string good = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data);
  std::string v4 = good;
  v4[6] = 4;
  expect_error(file("v4.npy", v4), "unsupported format version 4.0");
  expect_error(file("hlen.npy", good.substr(0, 9)), "truncated header length");
  expect_error(file("hdr.npy", good.substr(0, 40)), "truncated header");
  expect_error(file("trunc.npy", good.substr(0, good.size() - 1)), "truncated data");
  expect_error(file("fortran.npy", make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data)),
               "Fortran-order");
  expect_error(file("object.npy", make_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", data)),
               "object arrays");
  expect_error(file("big.npy", make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", data)),
               "big-endian");
  expect_error(file("c64.npy", make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", data)),
               "unsupported dtype descr '<c8'");
  expect_error(file("struct.npy", make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", data)),
               "structured arrays");
  expect_error(file("nokey.npy", make_npy("{'descr': '<f4', 'shape': (2, 3), }", data)), "lacks");
  expect_error(file("extra.npy", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", data)),
               "unexpected key 'x'");
  expect_error(file("neg.npy", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", data)),
               "non-negative integer");
  expect_error(file("garbage.npy", make_npy("not a dict at all", data)), "malformed header");
  expect_error(file("unterminated.npy", make_npy("{'descr: '<f4'", data)), "malformed header");
  expect_error(file("huge.npy", make_npy("{'descr': '<f4', 'fortran_order': False, "
                                         "'shape': (100000000000000, 100000000000000), }", data)),
               "overflows");
  expect_error(file("bool.npy", make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", "\x01\x05")),
               "bool array holds byte value 5", false);  // the map does not scan the data
  fs::create_directories(tmp.path("adir.npy"));
  expect_error(tmp.path("adir.npy"), "not a regular file");
}

BOOST_AUTO_TEST_CASE(atomic_write_leaves_no_temporary) {
  TmpDir tmp;
  io::save_npy(tmp.path("a.npy"), Tensor::ones({2, 2}));
  io::save_npy(tmp.path("a.npy"), Tensor::zeros({3}));
  int files = 0;
  for (const auto& e : fs::directory_iterator(tmp.dir)) files += e.is_regular_file();
  BOOST_CHECK_EQUAL(files, 1);
  BOOST_CHECK(io::load_npy(tmp.path("a.npy")).shape() == Shape{3});
  BOOST_CHECK_THROW(io::save_npy(tmp.path("no/such/dir/a.npy"), Tensor::zeros({3})), dive::Error);
  BOOST_CHECK_THROW(io::save_npy(tmp.path("h.npy"), Tensor::zeros({3}, DType::f16)), dive::Error);
}

BOOST_AUTO_TEST_SUITE_END()
