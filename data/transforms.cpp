// torchvision-compatible image transforms (see data/transforms.h for the reference semantics).
#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/dataset.h"
#include "lib/core/error.h"

namespace dive::data {

namespace {

// Python's round(x) for finite x: nearest integer, ties to even.
int64_t py_round(double x) {
  double f = std::floor(x);
  double d = x - f;
  if (d > 0.5) return int64_t(f) + 1;
  if (d < 0.5) return int64_t(f);
  int64_t fi = int64_t(f);
  return (fi % 2 == 0) ? fi : fi + 1;
}

// Host, contiguous f32 [C, H, W].
Tensor host_chw(const Tensor& chw, const char* what) {
  DIVE_CHECK(chw.defined(), what, ": undefined tensor");
  DIVE_CHECK(chw.dim() == 3, what, ": expected f32 [C, H, W], got ", chw.str());
  DIVE_CHECK(chw.dtype() == DType::f32, what, ": expected f32, got ", chw.str());
  Tensor t = chw.device() == kCPU ? chw : chw.to(kCPU);
  return t.contiguous();
}

// Per-output-position source indices and weights of torch's linear interpolation (align_corners=False)
// for output length `out` over a window of length `in` starting at `start`.
struct Axis {
  std::vector<int64_t> i0, i1;
  std::vector<float> w0, w1;
};

Axis linear_axis(int64_t start, int64_t in, int64_t out) {
  Axis a;
  a.i0.resize(size_t(out));
  a.i1.resize(size_t(out));
  a.w0.resize(size_t(out));
  a.w1.resize(size_t(out));
  // area_pixel_compute_scale: (float)in / out when no scale factor is given.
  const float scale = float(in) / float(out);
  for (int64_t d = 0; d < out; ++d) {
    // area_pixel_compute_source_index (non-cubic): clamped below at 0.
    const float src = scale * (float(d) + 0.5f) - 0.5f;
    const float s = src < 0.f ? 0.f : src;
    // guard_index_and_lambda
    int64_t idx = std::min(int64_t(std::floor(s)), in - 1);
    float l = std::min(std::max(s - float(idx), 0.f), 1.f);
    int64_t nxt = idx + (idx < in - 1 ? 1 : 0);
    a.i0[size_t(d)] = start + idx;
    a.i1[size_t(d)] = start + nxt;
    a.w0[size_t(d)] = 1.f - l;
    a.w1[size_t(d)] = l;
  }
  return a;
}

}  // namespace

Tensor to_float_chw(const Tensor& u8_hwc) {
  DIVE_CHECK(u8_hwc.defined() && u8_hwc.dim() == 3 && u8_hwc.size(2) == 3 && u8_hwc.dtype() == DType::u8,
             "to_float_chw: expected u8 [H, W, 3], got ", u8_hwc.defined() ? u8_hwc.str() : "undefined");
  Tensor src = (u8_hwc.device() == kCPU ? u8_hwc : u8_hwc.to(kCPU)).contiguous();
  const int64_t H = src.size(0), W = src.size(1), HW = H * W;
  Tensor out = Tensor::empty({3, H, W});
  const uint8_t* s = src.data<uint8_t>();
  float* o = out.data<float>();
  for (int64_t p = 0; p < HW; ++p)
    for (int64_t c = 0; c < 3; ++c) o[c * HW + p] = float(s[p * 3 + c]) / 255.f;  // ToTensor: div(255)
  return out;
}

void normalize_imagenet(Tensor& chw) {
  DIVE_CHECK(chw.defined() && chw.dim() == 3 && chw.size(0) == 3 && chw.dtype() == DType::f32,
             "normalize_imagenet: expected f32 [3, H, W], got ", chw.defined() ? chw.str() : "undefined");
  DIVE_CHECK(chw.device() == kCPU, "normalize_imagenet: host tensors only, got ", chw.str());
  if (!chw.is_contiguous()) chw = chw.contiguous();
  const int64_t HW = chw.size(1) * chw.size(2);
  float* p = chw.data<float>();
  for (int64_t c = 0; c < 3; ++c) {
    // torchvision Normalize: tensor.sub_(mean).div_(std)
    const float m = kImageNetMean[c], s = kImageNetStd[c];
    for (int64_t k = 0; k < HW; ++k) p[c * HW + k] = (p[c * HW + k] - m) / s;
  }
}

Tensor resized_crop(const Tensor& chw, int64_t top, int64_t left, int64_t h, int64_t w, int64_t out_h,
                    int64_t out_w) {
  Tensor src = host_chw(chw, "resized_crop");
  const int64_t C = src.size(0), H = src.size(1), W = src.size(2);
  DIVE_CHECK(h > 0 && w > 0 && top >= 0 && left >= 0 && top + h <= H && left + w <= W, "resized_crop: window (",
             top, ", ", left, ", ", h, ", ", w, ") outside the image ", H, "x", W);
  DIVE_CHECK(out_h > 0 && out_w > 0, "resized_crop: output size ", out_h, "x", out_w, " must be positive");
  const Axis ay = linear_axis(top, h, out_h), ax = linear_axis(left, w, out_w);
  Tensor out = Tensor::empty({C, out_h, out_w});
  const float* s = src.data<float>();
  float* o = out.data<float>();
  for (int64_t c = 0; c < C; ++c) {
    const float* sc = s + c * H * W;
    float* oc = o + c * out_h * out_w;
    for (int64_t y = 0; y < out_h; ++y) {
      const float* r0 = sc + ay.i0[size_t(y)] * W;
      const float* r1 = sc + ay.i1[size_t(y)] * W;
      const float hw0 = ay.w0[size_t(y)], hw1 = ay.w1[size_t(y)];
      for (int64_t x = 0; x < out_w; ++x) {
        const size_t k = size_t(x);
        // torch's Interpolate<2>: h0 * (w0 * x00 + w1 * x01) + h1 * (w0 * x10 + w1 * x11)
        float t0 = r0[ax.i0[k]] * ax.w0[k] + r0[ax.i1[k]] * ax.w1[k];
        float t1 = r1[ax.i0[k]] * ax.w0[k] + r1[ax.i1[k]] * ax.w1[k];
        oc[y * out_w + x] = t0 * hw0 + t1 * hw1;
      }
    }
  }
  return out;
}

Tensor resize_bilinear(const Tensor& chw, int64_t out_h, int64_t out_w) {
  Tensor src = host_chw(chw, "resize_bilinear");
  return resized_crop(src, 0, 0, src.size(1), src.size(2), out_h, out_w);
}

Tensor resize_shorter(const Tensor& chw, int64_t size) {
  Tensor src = host_chw(chw, "resize_shorter");
  DIVE_CHECK(size > 0, "resize_shorter: size ", size, " must be positive");
  const int64_t H = src.size(1), W = src.size(2);
  DIVE_CHECK(H > 0 && W > 0, "resize_shorter: empty image ", src.str());
  // torchvision: short, long = (w, h) if w <= h else (h, w); new_long = int(size * long / short).
  // Integer division equals Python's float division + truncation at image sizes.
  const int64_t shrt = W <= H ? W : H, lng = W <= H ? H : W;
  const int64_t new_long = size * lng / shrt;
  const int64_t new_h = W <= H ? new_long : size, new_w = W <= H ? size : new_long;
  return resized_crop(src, 0, 0, H, W, new_h, new_w);
}

Tensor center_crop(const Tensor& chw, int64_t size) {
  Tensor src = host_chw(chw, "center_crop");
  const int64_t H = src.size(1), W = src.size(2);
  DIVE_CHECK(size > 0 && size <= H && size <= W, "center_crop: crop ", size, " does not fit the image ", H,
             "x", W);
  const int64_t top = py_round(double(H - size) / 2.0), left = py_round(double(W - size) / 2.0);
  return src.narrow(1, top, size).narrow(2, left, size).contiguous();
}

Tensor hflip(const Tensor& chw) {
  Tensor src = host_chw(chw, "hflip");
  const int64_t C = src.size(0), H = src.size(1), W = src.size(2);
  Tensor out = Tensor::empty({C, H, W});
  const float* s = src.data<float>();
  float* o = out.data<float>();
  for (int64_t r = 0; r < C * H; ++r)
    for (int64_t x = 0; x < W; ++x) o[r * W + x] = s[r * W + (W - 1 - x)];
  return out;
}

CropBox random_resized_crop_box(int64_t height, int64_t width, std::mt19937_64& rng,
                                const RandomResizedCropParams& p) {
  DIVE_CHECK(height > 0 && width > 0, "random_resized_crop: empty image ", height, "x", width);
  DIVE_CHECK(p.scale_min > 0 && p.scale_min <= p.scale_max && p.ratio_min > 0 && p.ratio_min <= p.ratio_max,
             "random_resized_crop: bad scale (", p.scale_min, ", ", p.scale_max, ") or ratio (", p.ratio_min,
             ", ", p.ratio_max, ")");
  const double area = double(height) * double(width);
  const double log_r0 = std::log(p.ratio_min), log_r1 = std::log(p.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * (p.scale_min + (p.scale_max - p.scale_min) * uniform01(rng));
    const double aspect = std::exp(log_r0 + (log_r1 - log_r0) * uniform01(rng));
    const int64_t w = py_round(std::sqrt(target_area * aspect));
    const int64_t h = py_round(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      CropBox b;
      b.top = uniform_int(rng, height - h + 1);
      b.left = uniform_int(rng, width - w + 1);
      b.height = h;
      b.width = w;
      return b;
    }
  }
  // Fallback to the central crop.
  const double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < p.ratio_min) {
    h = py_round(double(w) / p.ratio_min);
  } else if (in_ratio > p.ratio_max) {
    w = py_round(double(h) * p.ratio_max);
  }
  h = std::clamp<int64_t>(h, 1, height);
  w = std::clamp<int64_t>(w, 1, width);
  CropBox b;
  b.top = (height - h) / 2;
  b.left = (width - w) / 2;
  b.height = h;
  b.width = w;
  return b;
}

Tensor random_resized_crop(const Tensor& chw, int64_t size, std::mt19937_64& rng,
                           const RandomResizedCropParams& p) {
  Tensor src = host_chw(chw, "random_resized_crop");
  const CropBox b = random_resized_crop_box(src.size(1), src.size(2), rng, p);
  return resized_crop(src, b.top, b.left, b.height, b.width, size, size);
}

Tensor random_hflip(const Tensor& chw, std::mt19937_64& rng, double p) {
  if (uniform01(rng) < p) return hflip(chw);
  return chw;
}

Tensor train_transform(const Tensor& u8_hwc, int64_t crop_size, std::mt19937_64& rng,
                       const RandomResizedCropParams& p) {
  DIVE_CHECK(crop_size > 0, "train_transform: crop size ", crop_size, " must be positive");
  Tensor x = to_float_chw(u8_hwc);  // geometry on [0, 1] floats (data/transforms.h)
  x = random_resized_crop(x, crop_size, rng, p);
  x = random_hflip(x, rng, 0.5);
  normalize_imagenet(x);
  return x;
}

int64_t test_resize_size(int64_t crop_size) {
  DIVE_CHECK(crop_size > 0, "test_transform: crop size ", crop_size, " must be positive");
  return 256 * crop_size / 224;
}

Tensor test_transform(const Tensor& u8_hwc, int64_t crop_size) {
  const int64_t rs = test_resize_size(crop_size);
  Tensor x = to_float_chw(u8_hwc);
  x = resize_shorter(x, rs);
  x = center_crop(x, crop_size);
  normalize_imagenet(x);
  return x;
}

}  // namespace dive::data
