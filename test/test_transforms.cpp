// Image transforms (data/transforms.h) against torch/torchvision values recorded in
// test/data/transforms_cases.json (test/reference/make_transform_cases.py), plus RandomResizedCrop
// statistics, determinism and flips.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"
#include "lib/core/error.h"

using namespace dive;
using namespace dive::data;
namespace json = boost::json;

namespace {

json::object load_fixture() {
  std::ifstream f("test/data/transforms_cases.json", std::ios::binary);
  BOOST_REQUIRE_MESSAGE(f.good(),
                        "missing test/data/transforms_cases.json (test/reference/make_transform_cases.py)");
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str()).as_object();
}

std::map<std::string, Tensor> fixture_images(const json::object& doc) {
  std::map<std::string, Tensor> out;
  for (const auto& kv : doc.at("images").as_object()) {
    const json::object& im = kv.value().as_object();
    std::vector<uint8_t> px;
    for (const json::value& v : im.at("u8").as_array()) px.push_back(uint8_t(v.to_number<int64_t>()));
    out[std::string(kv.key())] =
        Tensor::from_vector(px, {im.at("h").to_number<int64_t>(), im.at("w").to_number<int64_t>(), 3});
  }
  return out;
}

int64_t geti(const json::object& c, const char* k) { return c.at(k).to_number<int64_t>(); }

// Max |got - want| after checking the shape.
double max_diff(const Tensor& got, const json::object& c, const std::string& label) {
  Shape want_shape;
  for (const json::value& v : c.at("shape").as_array()) want_shape.push_back(v.to_number<int64_t>());
  BOOST_REQUIRE_MESSAGE(got.shape() == want_shape,
                        label << ": shape " << shape_str(got.shape()) << " vs torch " << shape_str(want_shape));
  std::vector<float> g = got.to_vector<float>();
  const json::array& w = c.at("values").as_array();
  BOOST_REQUIRE_EQUAL(g.size(), w.size());
  double m = 0;
  for (size_t i = 0; i < g.size(); ++i) m = std::max(m, std::abs(double(g[i]) - w[i].to_number<double>()));
  return m;
}

Tensor patterned_u8(int64_t h, int64_t w) {
  std::vector<uint8_t> px(size_t(h * w * 3));
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 37 + (i / 3) * 11) % 256);
  return Tensor::from_vector(px, {h, w, 3});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transforms)

BOOST_AUTO_TEST_CASE(matches_torchvision_fixture) {
  json::object doc = load_fixture();
  BOOST_TEST_MESSAGE("transforms fixture from torch " << doc.at("torch").as_string() << ", torchvision "
                                                      << doc.at("torchvision").as_string());
  auto images = fixture_images(doc);
  std::map<std::string, int> counts;
  double worst = 0;
  for (const json::value& cv : doc.at("cases").as_array()) {
    const json::object& c = cv.as_object();
    const std::string kind(c.at("kind").as_string()), name(c.at("image").as_string());
    BOOST_REQUIRE(images.count(name));
    Tensor x = to_float_chw(images.at(name));
    Tensor got;
    std::ostringstream label;
    label << kind << " on image " << name << " " << shape_str(x.shape());
    if (kind == "resize") {
      got = resize_bilinear(x, geti(c, "out_h"), geti(c, "out_w"));
    } else if (kind == "resized_crop") {
      got = resized_crop(x, geti(c, "top"), geti(c, "left"), geti(c, "h"), geti(c, "w"), geti(c, "out_h"),
                         geti(c, "out_w"));
    } else if (kind == "shorter_crop") {
      got = center_crop(resize_shorter(x, geti(c, "size")), geti(c, "crop"));
    } else if (kind == "test") {
      BOOST_CHECK_EQUAL(test_resize_size(geti(c, "crop")), geti(c, "resize"));
      got = test_transform(images.at(name), geti(c, "crop"));
    } else {
      BOOST_FAIL("unknown case kind " << kind);
    }
    label << " -> " << shape_str(got.shape());
    double d = max_diff(got, c, label.str());
    BOOST_CHECK_MESSAGE(d <= 1e-5, label.str() << ": max |diff| " << d);
    worst = std::max(worst, d);
    ++counts[kind];
  }
  BOOST_TEST_MESSAGE("transforms fixture: max |ours - torch| over all cases " << worst);
  BOOST_CHECK_GE(counts["resize"], 10);
  BOOST_CHECK_GE(counts["resized_crop"], 3);
  BOOST_CHECK_GE(counts["shorter_crop"], 5);
  BOOST_CHECK_GE(counts["test"], 5);
}

BOOST_AUTO_TEST_CASE(to_float_and_normalize) {
  Tensor u8 = Tensor::from_vector(std::vector<uint8_t>{0, 128, 255, 10, 20, 30}, {1, 2, 3});
  Tensor x = to_float_chw(u8);
  BOOST_REQUIRE(x.shape() == (Shape{3, 1, 2}));
  std::vector<float> v = x.to_vector<float>();
  std::vector<float> want = {0.f, 10 / 255.f, 128 / 255.f, 20 / 255.f, 1.f, 30 / 255.f};
  for (size_t i = 0; i < v.size(); ++i) BOOST_CHECK_CLOSE(v[i] + 1.0, want[i] + 1.0, 1e-5);
  normalize_imagenet(x);
  v = x.to_vector<float>();
  BOOST_CHECK_CLOSE(v[0], (0.f - 0.485f) / 0.229f, 1e-4);
  BOOST_CHECK_CLOSE(v[4], (1.f - 0.406f) / 0.225f, 1e-4);
  BOOST_CHECK_THROW(to_float_chw(Tensor::zeros({2, 2, 3})), dive::Error);  // f32, not u8
}

BOOST_AUTO_TEST_CASE(sizes_and_rounding) {
  // Resize(int): shorter side = size, longer truncated: 256 * 500 / 375 = 341.33 -> 341.
  Tensor land = Tensor::zeros({3, 375, 500});
  BOOST_CHECK(resize_shorter(land, 256).shape() == (Shape{3, 256, 341}));
  BOOST_CHECK(resize_shorter(Tensor::zeros({3, 500, 375}), 256).shape() == (Shape{3, 341, 256}));
  BOOST_CHECK(resize_shorter(Tensor::zeros({3, 9, 9}), 4).shape() == (Shape{3, 4, 4}));
  BOOST_CHECK_EQUAL(test_resize_size(224), 256);
  BOOST_CHECK_EQUAL(test_resize_size(512), 585);
  // CenterCrop: top = round((H - s) / 2) with ties to even: (5 - 2) / 2 = 1.5 -> 2; (7 - 2) / 2 = 2.5 -> 2.
  std::vector<float> rows(5 * 7);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(i);
  Tensor img = Tensor::from_vector(rows, {1, 5, 7});
  std::vector<float> c = center_crop(img, 2).to_vector<float>();
  BOOST_CHECK_EQUAL(c[0], float(2 * 7 + 2));
  BOOST_CHECK_THROW(center_crop(img, 6), dive::Error);
  // Identity resize is exact.
  std::vector<float> same = resize_bilinear(img, 5, 7).to_vector<float>();
  BOOST_CHECK(same == rows);
}

BOOST_AUTO_TEST_CASE(hflip_reverses_width) {
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  Tensor x = Tensor::from_vector(v, {1, 2, 3});
  BOOST_CHECK((hflip(x).to_vector<float>() == std::vector<float>{3, 2, 1, 6, 5, 4}));
  BOOST_CHECK(hflip(hflip(x)).to_vector<float>() == v);
  // p = 0.5: about half of the draws flip.
  std::mt19937_64 rng = sample_rng(5, 0, 0);
  int flipped = 0;
  for (int i = 0; i < 2000; ++i) flipped += random_hflip(x, rng).to_vector<float>()[0] == 3.f;
  BOOST_CHECK(flipped > 850 && flipped < 1150);
  BOOST_CHECK(random_hflip(x, rng, 0.0).to_vector<float>() == v);
  BOOST_CHECK((random_hflip(x, rng, 1.0).to_vector<float>() == std::vector<float>{3, 2, 1, 6, 5, 4}));
}

BOOST_AUTO_TEST_CASE(random_resized_crop_statistics) {
  const RandomResizedCropParams p;
  for (auto [H, W] : {std::pair<int64_t, int64_t>{375, 500}, {480, 640}, {224, 224}, {500, 333}}) {
    std::mt19937_64 rng = sample_rng(11, 2, H);
    double min_scale = 1, max_scale = 0;
    for (int i = 0; i < 3000; ++i) {
      CropBox b = random_resized_crop_box(H, W, rng, p);
      BOOST_REQUIRE(b.height > 0 && b.width > 0 && b.top >= 0 && b.left >= 0);
      BOOST_REQUIRE(b.top + b.height <= H && b.left + b.width <= W);
      double scale = double(b.height * b.width) / double(H * W);
      double ratio = double(b.width) / double(b.height);
      // w, h are rounded from sqrt(area * ratio), sqrt(area / ratio): allow one pixel of rounding.
      BOOST_CHECK_MESSAGE(scale >= p.scale_min * 0.9 && scale <= 1.0, "scale " << scale);
      double lo = double(b.width - 0.5) / double(b.height + 0.5), hi = double(b.width + 0.5) / double(b.height - 0.5);
      BOOST_CHECK_MESSAGE(hi >= p.ratio_min && lo <= p.ratio_max, "ratio " << ratio);
      min_scale = std::min(min_scale, scale);
      max_scale = std::max(max_scale, scale);
    }
    BOOST_CHECK_LT(min_scale, 0.15);  // the range is used
    BOOST_CHECK_GT(max_scale, 0.6);
  }
  // Fallback: an extreme aspect never fits 10 attempts of ratio in [3/4, 4/3] at full scale; with
  // scale (1, 1) it must return the central crop clamped to the ratio bound.
  RandomResizedCropParams full;
  full.scale_min = full.scale_max = 1.0;
  std::mt19937_64 rng = sample_rng(1, 0, 0);
  CropBox b = random_resized_crop_box(100, 400, rng, full);  // W/H = 4 > 4/3
  BOOST_CHECK_EQUAL(b.height, 100);
  BOOST_CHECK_EQUAL(b.width, 133);  // round(100 * 4/3)
  BOOST_CHECK_EQUAL(b.top, 0);
  BOOST_CHECK_EQUAL(b.left, (400 - 133) / 2);
  b = random_resized_crop_box(400, 100, rng, full);  // W/H = 0.25 < 3/4
  BOOST_CHECK_EQUAL(b.width, 100);
  BOOST_CHECK_EQUAL(b.height, 133);  // round(100 / 0.75)
  BOOST_CHECK_EQUAL(b.top, (400 - 133) / 2);
}

BOOST_AUTO_TEST_CASE(train_transform_deterministic) {
  Tensor img = patterned_u8(37, 53);
  std::mt19937_64 r1 = sample_rng(7, 3, 12), r2 = sample_rng(7, 3, 12), r3 = sample_rng(7, 3, 13);
  Tensor a = train_transform(img, 16, r1), b = train_transform(img, 16, r2), c = train_transform(img, 16, r3);
  BOOST_CHECK(a.shape() == (Shape{3, 16, 16}));
  BOOST_CHECK(a.to_vector<float>() == b.to_vector<float>());
  BOOST_CHECK(a.to_vector<float>() != c.to_vector<float>());
  // Same draws by hand: crop box, then flip, then normalisation.
  std::mt19937_64 r4 = sample_rng(7, 3, 12);
  CropBox box = random_resized_crop_box(37, 53, r4);
  Tensor x = resized_crop(to_float_chw(img), box.top, box.left, box.height, box.width, 16, 16);
  if (uniform01(r4) < 0.5) x = hflip(x);
  normalize_imagenet(x);
  BOOST_CHECK(a.to_vector<float>() == x.to_vector<float>());
  // The test transform is deterministic and official-shaped at 224.
  Tensor t = test_transform(patterned_u8(300, 400), 224);
  BOOST_CHECK(t.shape() == (Shape{3, 224, 224}));
}

BOOST_AUTO_TEST_SUITE_END()
