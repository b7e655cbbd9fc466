// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). Element e of a random tensor drawn
// with (seed, offset) is a pure function of (seed, offset + e), so every backend produces the same
// numbers for the same seed, in any order and on any number of threads.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define DIVE_HD __host__ __device__ __forceinline__
#else
#define DIVE_HD inline
#endif

namespace dive {

struct Philox4x32 {
  uint32_t c[4];
};

DIVE_HD void philox_round(uint32_t* ctr, const uint32_t* key) {
  const uint64_t p0 = uint64_t(0xD2511F53u) * ctr[0];
  const uint64_t p1 = uint64_t(0xCD9E8D57u) * ctr[2];
  const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
  const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
  const uint32_t n0 = hi1 ^ ctr[1] ^ key[0];
  const uint32_t n2 = hi0 ^ ctr[3] ^ key[1];
  ctr[0] = n0;
  ctr[1] = lo1;
  ctr[2] = n2;
  ctr[3] = lo0;
}

// Four 32-bit random words for counter `counter` under key `seed`.
DIVE_HD Philox4x32 philox(uint64_t seed, uint64_t counter) {
  uint32_t ctr[4] = {uint32_t(counter), uint32_t(counter >> 32), 0u, 0u};
  uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  for (int r = 0; r < 10; ++r) {
    philox_round(ctr, key);
    key[0] += 0x9E3779B9u;
    key[1] += 0xBB67AE85u;
  }
  return Philox4x32{{ctr[0], ctr[1], ctr[2], ctr[3]}};
}

// Uniform in [0, 1) with 24 random bits (exact in f32), for element `index` of the stream: word
// index % 4 of the Philox block of counter index / 4 (one Philox call serves four elements).
DIVE_HD float philox_uniform_from(const Philox4x32& block, uint64_t index) {
  return float(block.c[index & 3] >> 8) * (1.0f / 16777216.0f);
}
DIVE_HD float philox_uniform(uint64_t seed, uint64_t index) {
  return philox_uniform_from(philox(seed, index >> 2), index);
}

// Standard normal by Box-Muller from two words of the same counter, computed in double so host and
// device agree to the last bit of the f32 result.
DIVE_HD double philox_normal(uint64_t seed, uint64_t index) {
  Philox4x32 r = philox(seed, index);
  double u1 = (double(r.c[0]) + 1.0) * (1.0 / 4294967297.0);  // (0, 1]
  double u2 = double(r.c[1]) * (1.0 / 4294967296.0);          // [0, 1)
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

// Process-wide generator: hands out (seed, offset) pairs so successive draws never overlap.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) { seed_ = seed; offset_ = 0; }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t off) { offset_ = off; }
  // Reserves n counters and returns the first.
  uint64_t reserve(uint64_t n) { uint64_t o = offset_; offset_ += n; return o; }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

Generator& default_generator();
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace dive
