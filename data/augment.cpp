// Training-time augmentation with the semantics of the official data.py, driven by generators we
// own: a std::mt19937_64 per (seed, epoch, sample), so results do not depend on thread scheduling.
//   caption_augmentation (tokenize()): per word u = U(0,1); if u < p: u /= p; u < 0.5 -> <mask>,
//     u < 0.6 -> random.randrange(len(vocab)) (a second draw; <mask> and the specials included),
//     else the word is deleted. <start> and <end> are added after augmentation, so never touched.
//   region drop (PrecompRegionDataset): image[rand(R) > p].
#include "data/dataset.h"
#include "lib/core/error.h"

namespace dive::data {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

std::mt19937_64 sample_rng(uint64_t seed, int64_t epoch, int64_t index) {
  uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ uint64_t(epoch));
  h = splitmix64(h ^ uint64_t(index));
  return std::mt19937_64(h);
}

double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

int64_t uniform_int(std::mt19937_64& rng, int64_t n) {
  DIVE_CHECK(n > 0, "uniform_int: empty range [0, ", n, ")");
  // Rejection sampling: unbiased and independent of the standard library's distributions.
  uint64_t un = uint64_t(n);
  uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % un);
  uint64_t r;
  do r = rng();
  while (r >= limit);
  return int64_t(r % un);
}

std::vector<int64_t> augment_caption(const std::vector<int64_t>& ids, double p, int64_t vocab_size,
                                     int64_t mask_id, std::mt19937_64& rng) {
  if (p <= 0 || ids.size() <= 2) return ids;
  DIVE_CHECK(ids.front() == Vocabulary::kStart && ids.back() == Vocabulary::kEnd,
             "augment_caption: ids must be <start> ... <end>");
  std::vector<int64_t> out;
  out.reserve(ids.size());
  out.push_back(ids.front());
  for (size_t k = 1; k + 1 < ids.size(); ++k) {
    double u = uniform01(rng);
    if (u < p) {
      u /= p;
      if (u < 0.5) out.push_back(mask_id);
      else if (u < 0.6) out.push_back(uniform_int(rng, vocab_size));
      // else: deleted
    } else {
      out.push_back(ids[k]);
    }
  }
  out.push_back(ids.back());
  return out;
}

std::vector<int64_t> drop_regions(int64_t regions, double p, std::mt19937_64& rng) {
  std::vector<int64_t> keep;
  keep.reserve(size_t(regions));
  for (int64_t r = 0; r < regions; ++r)
    if (uniform01(rng) > p) keep.push_back(r);
  if (keep.empty())
    for (int64_t r = 0; r < regions; ++r) keep.push_back(r);
  return keep;
}

}  // namespace dive::data
