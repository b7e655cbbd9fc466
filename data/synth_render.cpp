// Rasterisation of synthetic scenes: filled shapes on a plain background, 4x4 supersampled coverage.
#include <algorithm>
#include <cmath>

#include "data/synth.h"
#include "lib/core/error.h"

namespace dive::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Pt {
  double x, y;
};

// Even-odd crossing test (works for the non-convex star).
bool in_polygon(const std::vector<Pt>& p, double u, double v) {
  bool in = false;
  for (size_t i = 0, j = p.size() - 1; i < p.size(); j = i++) {
    if ((p[i].y > v) != (p[j].y > v) && u < (p[j].x - p[i].x) * (v - p[i].y) / (p[j].y - p[i].y) + p[i].x)
      in = !in;
  }
  return in;
}

std::vector<Pt> regular(int n, double r_outer, double r_inner) {
  // Vertices from the top, clockwise; r_inner > 0 alternates (star).
  const int m = r_inner > 0 ? 2 * n : n;
  std::vector<Pt> p;
  for (int k = 0; k < m; ++k) {
    const double r = (r_inner > 0 && k % 2 == 1) ? r_inner : r_outer;
    const double a = -kPi / 2 + 2 * kPi * k / m;
    p.push_back({r * std::cos(a), r * std::sin(a)});
  }
  return p;
}

const std::vector<Pt>& triangle() {
  static const std::vector<Pt> p = {{0.0, -1.0}, {0.95, 0.8}, {-0.95, 0.8}};
  return p;
}
const std::vector<Pt>& star() {
  static const std::vector<Pt> p = regular(5, 1.0, 0.45);
  return p;
}
const std::vector<Pt>& hexagon() {
  static const std::vector<Pt> p = regular(6, 1.0, 0.0);
  return p;
}

// (u, v): offset from the centre in units of the radius, v downwards. Shape order = synth_shapes().
bool inside(int shape, double u, double v) {
  switch (shape) {
    case 0: return u * u + v * v <= 1.0;                                  // circle
    case 1: return std::fabs(u) <= 0.85 && std::fabs(v) <= 0.85;          // square
    case 2: return in_polygon(triangle(), u, v);                          // triangle
    case 3: return in_polygon(star(), u, v);                              // star
    case 4:                                                               // cross
      return (std::fabs(u) <= 0.32 && std::fabs(v) <= 0.95) || (std::fabs(v) <= 0.32 && std::fabs(u) <= 0.95);
    case 5: return std::fabs(u) + std::fabs(v) <= 1.0;                    // diamond
    case 6: return in_polygon(hexagon(), u, v);                           // hexagon
    case 7: {                                                             // ring
      const double r2 = u * u + v * v;
      return r2 <= 1.0 && r2 >= 0.5 * 0.5;
    }
    case 8: {                                                             // heart
      const double x = 1.2 * u, y = -1.2 * v + 0.15;
      const double a = x * x + y * y - 1.0;
      return a * a * a - x * x * y * y * y <= 0.0;
    }
    case 9:                                                               // crescent
      return u * u + v * v <= 1.0 && (u - 0.45) * (u - 0.45) + (v + 0.1) * (v + 0.1) >= 0.8 * 0.8;
    default: DIVE_FAIL("synth_render: unknown shape ", shape);
  }
}

const uint8_t kColours[10][3] = {
    {220, 40, 40},   {40, 180, 60},  {50, 90, 235},  {240, 220, 40}, {150, 60, 200},
    {250, 140, 20},  {245, 245, 245}, {250, 130, 190}, {40, 210, 220}, {140, 85, 40},
};
const uint8_t kBackground[3] = {28, 28, 36};

}  // namespace

std::vector<uint8_t> synth_render(const SynthScene& scene, int64_t size) {
  DIVE_CHECK(size >= 8 && size <= 4096, "synth_render: image size must be in [8, 4096], got ", size);
  DIVE_CHECK(synth_colours().size() == 10 && synth_shapes().size() == 10, "synth_render: tables out of sync");
  const int64_t n = size;
  std::vector<uint8_t> img(size_t(n * n * 3));
  for (int64_t i = 0; i < n * n; ++i)
    for (int c = 0; c < 3; ++c) img[size_t(3 * i + c)] = kBackground[c];
  constexpr int kSub = 4;
  for (const SynthObject& o : scene.objects) {
    const double cx = o.x * double(n), cy = o.y * double(n), r = o.radius * double(n);
    const int64_t x0 = std::max<int64_t>(0, int64_t(std::floor(cx - r - 1)));
    const int64_t x1 = std::min<int64_t>(n - 1, int64_t(std::ceil(cx + r + 1)));
    const int64_t y0 = std::max<int64_t>(0, int64_t(std::floor(cy - r - 1)));
    const int64_t y1 = std::min<int64_t>(n - 1, int64_t(std::ceil(cy + r + 1)));
    for (int64_t py = y0; py <= y1; ++py)
      for (int64_t px = x0; px <= x1; ++px) {
        int hits = 0;
        for (int sy = 0; sy < kSub; ++sy)
          for (int sx = 0; sx < kSub; ++sx) {
            const double u = (double(px) + (sx + 0.5) / kSub - cx) / r;
            const double v = (double(py) + (sy + 0.5) / kSub - cy) / r;
            hits += inside(o.shape, u, v) ? 1 : 0;
          }
        if (hits == 0) continue;
        const double a = double(hits) / (kSub * kSub);
        uint8_t* p = &img[size_t(3 * (py * n + px))];
        for (int c = 0; c < 3; ++c)
          p[c] = uint8_t(std::lround((1.0 - a) * p[c] + a * kColours[o.colour][c]));
      }
  }
  return img;
}

}  // namespace dive::data
