// torchvision-compatible image transforms for the CNN branch (docs/MODEL.md §2.6), namespace dive::data.
// Host (CPU) only; images are u8 [H, W, 3] as data::load_rgb returns them, model inputs f32 [3, H, W].
//
// Reference semantics (checked against torch/torchvision in test/test_transforms.cpp with the fixture
// test/data/transforms_cases.json from test/reference/make_transform_cases.py):
// - All geometry runs on float [0, 1] CHW tensors, i.e. torchvision's *tensor* path applied after
//   ToTensor: Compose([ToTensor(), Resize(s, antialias=False), CenterCrop(c), Normalize(...)]). The
//   official code applies the transforms to PIL images, whose bilinear resize antialiases when it
//   shrinks and rounds back to u8; we do neither (a documented, deliberate difference).
// - Bilinear = torch.nn.functional.interpolate(mode='bilinear', align_corners=False): scale = in/out
//   (float), source = scale * (dst + 0.5) - 0.5 clamped below at 0, i0 = floor(source), i1 = min(i0 + 1,
//   in - 1), weights (1 - l, l) with l = source - i0; no antialias. Arithmetic in float like torch's CPU
//   kernel: matches to ~1e-7.
// - Python's round() (round half to even) is reproduced wherever torchvision calls int(round(x)).
#pragma once
#include <cstdint>
#include <random>

#include "lib/core/tensor.h"

namespace dive::data {

inline constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
inline constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};

// u8 [H, W, 3] -> f32 [3, H, W], value / 255 (torchvision ToTensor).
Tensor to_float_chw(const Tensor& u8_hwc);
// In place: (x - mean[c]) / std[c] per channel on f32 [3, H, W] (torchvision Normalize, ImageNet stats).
void normalize_imagenet(Tensor& chw);

// f32 [C, H, W] -> f32 [C, out_h, out_w], bilinear as described above (F.resize(antialias=False)).
Tensor resize_bilinear(const Tensor& chw, int64_t out_h, int64_t out_w);
// Crop rows [top, top + h) x cols [left, left + w) and resize that window to (out_h, out_w); equal to
// resize_bilinear(crop(...)) without materialising the crop (torchvision F.resized_crop).
Tensor resized_crop(const Tensor& chw, int64_t top, int64_t left, int64_t h, int64_t w, int64_t out_h,
                    int64_t out_w);
// torchvision Resize(int size): the shorter side becomes `size`, the longer int(size * long / short)
// (truncated, as torchvision's _compute_resized_output_size; computed exactly in integers). A square
// image becomes size x size.
Tensor resize_shorter(const Tensor& chw, int64_t size);
// torchvision CenterCrop(size): top = int(round((H - size) / 2.0)) with Python's round (half to even),
// left likewise. The image must be at least size x size (torchvision would zero-pad; we refuse).
Tensor center_crop(const Tensor& chw, int64_t size);
// Reverses the last (width) axis.
Tensor hflip(const Tensor& chw);

// torchvision RandomResizedCrop.get_params with our RNG: up to 10 attempts of target area =
// H*W*U(scale_min, scale_max), aspect = exp(U(log ratio_min, log ratio_max)), w = int(round(sqrt(area *
// aspect))), h = int(round(sqrt(area / aspect))); accepted when 0 < w <= W and 0 < h <= H, then
// top = U{0..H-h}, left = U{0..W-w}. Otherwise the central fallback: the whole image clamped to the
// ratio range (h = int(round(W / ratio_min)) when W/H < ratio_min, w = int(round(H * ratio_max)) when
// W/H > ratio_max), centred with floor division.
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};
struct RandomResizedCropParams {
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
};
CropBox random_resized_crop_box(int64_t height, int64_t width, std::mt19937_64& rng,
                                const RandomResizedCropParams& p = {});
// get_params + resized_crop to (size, size).
Tensor random_resized_crop(const Tensor& chw, int64_t size, std::mt19937_64& rng,
                           const RandomResizedCropParams& p = {});
// RandomHorizontalFlip(p): flips when U[0,1) < p.
Tensor random_hflip(const Tensor& chw, std::mt19937_64& rng, double p = 0.5);

// Training: RandomResizedCrop(crop_size) + RandomHorizontalFlip(0.5) + ToTensor + Normalize (ImageNet).
// The RNG is drawn in that order (crop box, then flip). Use data::sample_rng(seed, epoch, index).
Tensor train_transform(const Tensor& u8_hwc, int64_t crop_size, std::mt19937_64& rng,
                       const RandomResizedCropParams& p = {});
// Test: Resize(int(256 * crop_size / 224)) + CenterCrop(crop_size) + ToTensor + Normalize; at 224 this is
// the official Resize(256) + CenterCrop(224). The resize size is computed in integers (truncation).
int64_t test_resize_size(int64_t crop_size);
Tensor test_transform(const Tensor& u8_hwc, int64_t crop_size);

}  // namespace dive::data
