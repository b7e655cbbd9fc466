// PrecompDataset over a tiny precomp folder written here (5x and 1x caption rules, errors), and the
// Loader: determinism across worker counts, collation, drop_last, augmentation rates, early stop.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "lib/io/npy.h"
#include "test/test_util.h"

namespace fs = std::filesystem;
using dive::DType;
using dive::Shape;
using dive::Tensor;
using namespace dive::data;

namespace {

struct TmpDir : dive::test::TempDir {
  explicit TmpDir(const std::string& tag) : dive::test::TempDir(tag) {}
  std::string str() const { return dir.string(); }
};

// Image i (dataset index) has region r feature d = 1000 i + 10 r + d; caption 5i+c is
// "image <i> caption <c> ..." with c + 1 extra words so lengths differ.
const std::vector<std::string> kWords = {"red", "dog", "on", "a", "blue", "mat", "near", "the", "sea"};

std::string caption_text(int64_t i, int64_t c) {
  std::string s = "Image " + std::to_string(i) + " caption";
  for (int64_t k = 0; k <= c + (i % 3); ++k) s += " " + kWords[size_t((i + c + k) % kWords.size())];
  return s + ".";
}

void write_split(const std::string& dir, const std::string& split, int64_t n, int64_t R, int64_t D, bool repeat5) {
  int64_t rows = repeat5 ? 5 * n : n;
  std::vector<float> v(size_t(rows * R * D));
  for (int64_t row = 0; row < rows; ++row) {
    int64_t i = repeat5 ? row / 5 : row;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t d = 0; d < D; ++d) v[size_t((row * R + r) * D + d)] = float(1000 * i + 10 * r + d);
  }
  dive::io::save_npy(dir + "/" + split + "_ims.npy", Tensor::from_vector(v, {rows, R, D}));
  std::ofstream f(dir + "/" + split + "_caps.txt", std::ios::binary);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 5; ++c) f << caption_text(i, c) << (c == 4 && i % 2 ? "  \r\n" : "\n");
}

Vocabulary make_vocab(int64_t n) {
  std::vector<std::string> caps;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 5; ++c) caps.push_back(caption_text(i, c));
  return Vocabulary::build(caps, 1);
}

using dive::test::expect_error;

bool same(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  return a.dtype() == DType::f32 ? a.to_vector<float>() == b.to_vector<float>()
                                 : a.to_vector<int64_t>() == b.to_vector<int64_t>();
}

std::vector<Batch> epoch_batches(const PrecompDataset& ds, const Vocabulary& v, LoaderOptions o, int64_t epoch) {
  Loader l(ds, v, o);
  l.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (l.next(b)) out.push_back(b);
  BOOST_CHECK_EQUAL(int64_t(out.size()), l.batches_per_epoch());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(precomp)

BOOST_AUTO_TEST_CASE(five_captions_per_row) {
  TmpDir tmp("precomp5");
  write_split(tmp.str(), "train", 4, 3, 2, false);
  PrecompDataset ds = PrecompDataset::open(tmp.str(), "train");
  BOOST_CHECK_EQUAL(ds.num_images(), 4);
  BOOST_CHECK_EQUAL(ds.num_captions(), 20);
  BOOST_CHECK_EQUAL(ds.regions(), 3);
  BOOST_CHECK_EQUAL(ds.feature_dim(), 2);
  BOOST_CHECK((ds.image(2).to_vector<float>() == std::vector<float>{2000, 2001, 2010, 2011, 2020, 2021}));
  BOOST_CHECK_EQUAL(ds.caption(13), caption_text(2, 3));
  BOOST_CHECK_EQUAL(ds.caption(9), caption_text(1, 4));  // "  \r" stripped
  BOOST_CHECK(ds.describe().find("train: 4 images x 3 x 2, 20 captions") != std::string::npos);
  BOOST_CHECK_THROW(ds.image(4), dive::Error);
  BOOST_CHECK_THROW(ds.caption(20), dive::Error);
}

BOOST_AUTO_TEST_CASE(rows_repeated_five_times) {
  TmpDir tmp("precomp1");
  write_split(tmp.str(), "testall", 3, 2, 4, true);
  PrecompDataset ds = PrecompDataset::open(tmp.str() + "/", "testall");
  BOOST_CHECK_EQUAL(ds.num_images(), 3);
  BOOST_CHECK_EQUAL(ds.num_captions(), 15);
  BOOST_CHECK_EQUAL(ds.image(1).to_vector<float>()[0], 1000.0f);
  BOOST_CHECK_EQUAL(ds.image(2).to_vector<float>()[7], 2013.0f);
  BOOST_CHECK_EQUAL(ds.caption(14), caption_text(2, 4));
  BOOST_CHECK(ds.describe().find("stored 5x") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(errors) {
  TmpDir tmp("precompbad");
  std::string d = tmp.str();
  write_split(d, "train", 4, 3, 2, false);
  { std::ofstream(d + "/train_caps.txt", std::ios::app) << "one more caption\n"; }
  expect_error([&] { PrecompDataset::open(d, "train"); },
               {"train_caps.txt' has 21 captions", "train_ims.npy' has 4 image rows"});
  write_split(d, "dev", 2, 3, 2, false);
  { std::ofstream(d + "/dev_caps.txt", std::ios::trunc) << "a\nb\n\nc\n"; }
  expect_error([&] { PrecompDataset::open(d, "dev"); }, {"dev_caps.txt' line 3: empty caption"});
  expect_error([&] { PrecompDataset::open(d, "nosuch"); }, {"nosuch_ims.npy", "cannot open"});
  dive::io::save_npy(d + "/flat_ims.npy", Tensor::zeros({2, 3}));
  expect_error([&] { PrecompDataset::open(d, "flat"); }, {"flat_ims.npy", "f32 [images, regions, dim]"});
  dive::io::save_npy(d + "/nocaps_ims.npy", Tensor::zeros({2, 3, 2}));
  expect_error([&] { PrecompDataset::open(d, "nocaps"); }, {"nocaps_caps.txt"});
}

BOOST_AUTO_TEST_CASE(official_split_names) {
  BOOST_CHECK_EQUAL(split_name("coco_butd", "train"), "train");
  BOOST_CHECK_EQUAL(split_name("coco_butd", "val"), "dev");
  BOOST_CHECK_EQUAL(split_name("coco_butd", "test"), "testall");
  BOOST_CHECK_EQUAL(split_name("f30k_butd", "val"), "dev");
  BOOST_CHECK_EQUAL(split_name("f30k_butd", "test"), "test");
  BOOST_CHECK_THROW(split_name("coco", "train"), dive::Error);
  BOOST_CHECK_THROW(split_name("f30k_butd", "testall"), dive::Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(loader)

BOOST_AUTO_TEST_CASE(deterministic_for_any_worker_count) {
  TmpDir tmp("loaderdet");
  write_split(tmp.str(), "train", 23, 6, 3, false);
  PrecompDataset ds = PrecompDataset::open(tmp.str(), "train");
  Vocabulary v = make_vocab(23);
  LoaderOptions o;
  o.batch_size = 4;
  o.seed = 7;
  o.workers = 0;
  std::vector<Batch> ref = epoch_batches(ds, v, o, 3);
  BOOST_REQUIRE_EQUAL(ref.size(), 6u);
  for (int64_t w : {1, 3}) {
    o.workers = w;
    std::vector<Batch> got = epoch_batches(ds, v, o, 3);
    BOOST_REQUIRE_EQUAL(got.size(), ref.size());
    for (size_t b = 0; b < ref.size(); ++b) {
      BOOST_TEST_INFO("workers " << w << " batch " << b);
      BOOST_CHECK(got[b].image_ids == ref[b].image_ids);
      BOOST_CHECK(same(got[b].images, ref[b].images));
      BOOST_CHECK(same(got[b].img_lengths, ref[b].img_lengths));
      BOOST_CHECK(same(got[b].captions, ref[b].captions));
      BOOST_CHECK(same(got[b].cap_lengths, ref[b].cap_lengths));
    }
  }
  // Another epoch shuffles differently; every image appears exactly once per epoch.
  std::vector<Batch> other = epoch_batches(ds, v, o, 4);
  BOOST_CHECK(other[0].image_ids != ref[0].image_ids || other[1].image_ids != ref[1].image_ids);
  std::multiset<int64_t> seen;
  for (const Batch& b : other) seen.insert(b.image_ids.begin(), b.image_ids.end());
  BOOST_CHECK_EQUAL(seen.size(), 23u);
  BOOST_CHECK_EQUAL(std::set<int64_t>(seen.begin(), seen.end()).size(), 23u);
}

BOOST_AUTO_TEST_CASE(collate_padding_and_lengths) {
  TmpDir tmp("loadercol");
  write_split(tmp.str(), "testall", 7, 5, 2, true);
  PrecompDataset ds = PrecompDataset::open(tmp.str(), "testall");
  Vocabulary v = make_vocab(7);
  LoaderOptions o;
  o.batch_size = 3;
  o.shuffle = false;
  o.train = false;
  o.workers = 2;
  std::vector<Batch> bs = epoch_batches(ds, v, o, 0);
  BOOST_REQUIRE_EQUAL(bs.size(), 3u);  // 3 + 3 + 1: the last partial batch is kept
  const Batch& last = bs[2];
  BOOST_CHECK((last.image_ids == std::vector<int64_t>{6}));
  BOOST_CHECK(last.images.shape() == (Shape{1, 5, 2}));
  BOOST_CHECK(last.captions.size(0) == 5);
  for (const Batch& b : bs) {
    int64_t B = int64_t(b.image_ids.size());
    BOOST_CHECK(b.images.device() == dive::kCPU && b.captions.dtype() == DType::i64);
    BOOST_CHECK((b.img_lengths.to_vector<int64_t>() == std::vector<int64_t>(size_t(B), 5)));
    std::vector<int64_t> caps = b.captions.to_vector<int64_t>(), lens = b.cap_lengths.to_vector<int64_t>();
    int64_t T = b.captions.size(1);
    BOOST_CHECK_EQUAL(T, *std::max_element(lens.begin(), lens.end()));
    for (int64_t j = 0; j < 5 * B; ++j) {
      int64_t img = b.image_ids[size_t(j / 5)];
      std::vector<int64_t> want = v.encode(caption_text(img, j % 5));
      BOOST_CHECK_EQUAL(lens[size_t(j)], int64_t(want.size()));
      for (int64_t t = 0; t < T; ++t)
        BOOST_CHECK_EQUAL(caps[size_t(j * T + t)], t < int64_t(want.size()) ? want[size_t(t)] : 0);
    }
    std::vector<float> im = b.images.to_vector<float>();
    for (int64_t k = 0; k < B; ++k) BOOST_CHECK_EQUAL(im[size_t(k * 10 + 3)], float(1000 * b.image_ids[size_t(k)] + 11));
  }
  o.drop_last = true;
  Loader l(ds, v, o);
  BOOST_CHECK_EQUAL(l.batches_per_epoch(), 2);
  BOOST_CHECK_EQUAL(epoch_batches(ds, v, o, 0).size(), 2u);
  o.drop_last = false;
  o.max_images = 4;
  BOOST_CHECK_EQUAL(epoch_batches(ds, v, o, 0).size(), 2u);
}

BOOST_AUTO_TEST_CASE(region_drop_pads_to_longest) {
  TmpDir tmp("loaderdrop");
  write_split(tmp.str(), "train", 40, 36, 2, false);
  PrecompDataset ds = PrecompDataset::open(tmp.str(), "train");
  Vocabulary v = make_vocab(40);
  LoaderOptions o;
  o.batch_size = 8;
  o.workers = 2;
  o.butd_drop_prob = 0.2;
  o.caption_drop_prob = 0;
  int64_t kept = 0, total = 0;
  for (const Batch& b : epoch_batches(ds, v, o, 1)) {
    std::vector<int64_t> lens = b.img_lengths.to_vector<int64_t>();
    int64_t N = b.images.size(1);
    BOOST_CHECK_EQUAL(N, *std::max_element(lens.begin(), lens.end()));
    std::vector<float> im = b.images.to_vector<float>();
    for (size_t k = 0; k < lens.size(); ++k) {
      kept += lens[k];
      total += 36;
      float prev = -1;
      for (int64_t r = 0; r < N; ++r) {
        float f0 = im[size_t((int64_t(k) * N + r) * 2)];
        if (r < lens[k]) {  // kept regions of the right image, in order
          BOOST_CHECK_EQUAL(int64_t(f0) / 1000, b.image_ids[k]);
          BOOST_CHECK_GT(f0, prev);
          prev = f0;
        } else {
          BOOST_CHECK_EQUAL(f0, 0.0f);
        }
      }
    }
  }
  BOOST_CHECK_CLOSE(double(kept) / double(total), 0.8, 5.0);  // 1440 regions
}

BOOST_AUTO_TEST_CASE(caption_augmentation_rates) {
  // 200k words through augment_caption: 80% kept, 10% <mask>, 2% random id, 8% deleted.
  const int64_t vocab = 50, mask = 49, n = 200000;
  std::vector<int64_t> ids = {Vocabulary::kStart};
  for (int64_t k = 0; k < n; ++k) ids.push_back(10);
  ids.push_back(Vocabulary::kEnd);
  std::mt19937_64 rng = sample_rng(1, 2, 3);
  std::vector<int64_t> out = augment_caption(ids, 0.2, vocab, mask, rng);
  BOOST_CHECK_EQUAL(out.front(), Vocabulary::kStart);
  BOOST_CHECK_EQUAL(out.back(), Vocabulary::kEnd);
  int64_t keep = 0, masked = 0, other = 0;
  for (size_t k = 1; k + 1 < out.size(); ++k) {
    if (out[k] == 10) ++keep;
    else if (out[k] == mask) ++masked;
    else ++other;
  }
  int64_t deleted = n - int64_t(out.size() - 2);
  BOOST_CHECK_CLOSE(double(masked) / n, 0.10 + 0.02 / vocab, 3.0);
  BOOST_CHECK_CLOSE(double(deleted) / n, 0.08, 4.0);
  BOOST_CHECK_CLOSE(double(keep) / n, 0.80 + 0.02 / vocab, 1.0);
  BOOST_CHECK_CLOSE(double(other) / n, 0.02 * (vocab - 2) / vocab, 8.0);
  // p = 0 and an empty caption are untouched; the same generator state gives the same result.
  BOOST_CHECK(augment_caption(ids, 0, vocab, mask, rng) == ids);
  BOOST_CHECK((augment_caption({1, 2}, 0.5, vocab, mask, rng) == std::vector<int64_t>{1, 2}));
  std::mt19937_64 a = sample_rng(5, 0, 9), b = sample_rng(5, 0, 9);
  BOOST_CHECK(augment_caption(ids, 0.2, vocab, mask, a) == augment_caption(ids, 0.2, vocab, mask, b));
  // drop_regions: never empty.
  std::mt19937_64 r = sample_rng(0, 0, 0);
  BOOST_CHECK_EQUAL(drop_regions(3, 0.999999, r).size(), 3u);
  BOOST_CHECK_EQUAL(drop_regions(5, 0, r).size(), 5u);
}

BOOST_AUTO_TEST_CASE(train_batches_use_augmentation) {
  TmpDir tmp("loaderaug");
  write_split(tmp.str(), "train", 16, 4, 2, false);
  PrecompDataset ds = PrecompDataset::open(tmp.str(), "train");
  Vocabulary v = make_vocab(16);
  LoaderOptions o;
  o.batch_size = 16;
  o.shuffle = false;
  o.caption_drop_prob = 0.5;
  std::vector<Batch> aug = epoch_batches(ds, v, o, 0);
  o.train = false;
  std::vector<Batch> plain = epoch_batches(ds, v, o, 0);
  BOOST_CHECK(!same(aug[0].captions, plain[0].captions));
  std::vector<int64_t> c = aug[0].captions.to_vector<int64_t>();
  BOOST_CHECK(std::count(c.begin(), c.end(), v.mask_id()) > 0);
}

BOOST_AUTO_TEST_CASE(early_destruction_and_restart) {
  TmpDir tmp("loaderstop");
  write_split(tmp.str(), "train", 64, 8, 16, false);
  PrecompDataset ds = PrecompDataset::open(tmp.str(), "train");
  Vocabulary v = make_vocab(64);
  LoaderOptions o;
  o.batch_size = 2;
  o.workers = 3;
  {
    Loader l(ds, v, o);
    Batch b;
    BOOST_CHECK(l.next(b));  // epoch 0 started implicitly; 31 batches left undelivered
  }
  {
    Loader l(ds, v, o);
    l.start_epoch(5);  // never consumed
  }
  Loader l(ds, v, o);
  Batch b;
  l.start_epoch(1);
  BOOST_CHECK(l.next(b));
  std::vector<int64_t> first = b.image_ids;
  l.start_epoch(1);  // restart mid-epoch: same first batch
  BOOST_CHECK(l.next(b));
  BOOST_CHECK(b.image_ids == first);
  int n = 1;
  while (l.next(b)) ++n;
  BOOST_CHECK_EQUAL(n, 32);
  BOOST_CHECK(!l.next(b));
}

BOOST_AUTO_TEST_SUITE_END()
