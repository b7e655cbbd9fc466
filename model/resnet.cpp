#include "model/resnet.h"

#include <cmath>

#include "lib/autograd/grad_mode.h"
#include "lib/core/error.h"
#include "lib/ops/ops.h"

namespace dive::model {

namespace {

// torchvision: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"): N(0, 2 / (out * kh * kw)).
std::shared_ptr<nn::Conv2d> make_conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  auto c = std::make_shared<nn::Conv2d>(in, out, k, stride, pad, false);
  NoGradGuard ng;
  const double sd = std::sqrt(2.0 / double(out * k * k));
  c->weight.copy_(Tensor::randn(c->weight.shape(), 0.0, sd));
  return c;
}

}  // namespace

Downsample::Downsample(int64_t in, int64_t out, int64_t stride) {
  conv = register_module("0", make_conv(in, out, 1, stride, 0));
  bn = register_module("1", std::make_shared<nn::BatchNorm2d>(out));
}

Tensor Downsample::forward(const Tensor& x) { return bn->forward(conv->forward(x)); }

ResBlock::ResBlock(bool bottleneck, int64_t in, int64_t planes, int64_t stride) : bottleneck(bottleneck) {
  const int64_t expansion = bottleneck ? 4 : 1, out = planes * expansion;
  if (bottleneck) {
    convs = {make_conv(in, planes, 1, 1, 0), make_conv(planes, planes, 3, stride, 1), make_conv(planes, out, 1, 1, 0)};
  } else {
    convs = {make_conv(in, planes, 3, stride, 1), make_conv(planes, planes, 3, 1, 1)};
  }
  for (size_t i = 0; i < convs.size(); ++i) {
    register_module("conv" + std::to_string(i + 1), convs[i]);
    bns.push_back(register_module("bn" + std::to_string(i + 1),
                                  std::make_shared<nn::BatchNorm2d>(convs[i]->weight.size(0))));
  }
  if (stride != 1 || in != out) downsample = register_module("downsample", std::make_shared<Downsample>(in, out, stride));
}

Tensor ResBlock::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < convs.size(); ++i) {
    h = bns[i]->forward(convs[i]->forward(h));
    if (i + 1 < convs.size()) h = relu(h);
  }
  Tensor identity = downsample ? downsample->forward(x) : x;
  return relu(add(h, identity));
}

ResNet::ResNet(const ResNetConfig& c) : cfg(c) {
  std::vector<int> counts;
  bool bottleneck = c.depth >= 50;
  switch (c.depth) {
    case 18: counts = {2, 2, 2, 2}; break;
    case 34: counts = {3, 4, 6, 3}; break;
    case 50: counts = {3, 4, 6, 3}; break;
    case 101: counts = {3, 4, 23, 3}; break;
    case 152: counts = {3, 8, 36, 3}; break;
    default: DIVE_FAIL("resnet: depth must be 18, 34, 50, 101 or 152, got ", c.depth);
  }
  conv1 = register_module("conv1", make_conv(3, 64, 7, 2, 3));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(64));
  const int64_t expansion = bottleneck ? 4 : 1;
  int64_t in = 64;
  for (int l = 0; l < 4; ++l) {
    const int64_t planes = int64_t(64) << l;
    auto layer = register_module("layer" + std::to_string(l + 1), std::make_shared<IndexedModules>());
    blocks.emplace_back();
    for (int b = 0; b < counts[size_t(l)]; ++b) {
      auto blk = layer->add(std::make_shared<ResBlock>(bottleneck, in, planes, b == 0 && l > 0 ? 2 : 1));
      blocks.back().push_back(blk);
      in = planes * expansion;
    }
    layers.push_back(layer);
  }
  out_channels_ = in;
  if (c.with_head) fc = register_module("fc", std::make_shared<nn::Linear>(in, c.num_classes));
  all_bn_.push_back(bn1);
  for (const auto& layer : blocks)
    for (const auto& blk : layer) {
      for (const auto& bn : blk->bns) all_bn_.push_back(bn);
      if (blk->downsample) all_bn_.push_back(blk->downsample->bn);
    }
}

Tensor ResNet::forward(const Tensor& images) {
  DIVE_CHECK(images.dim() == 4 && images.size(1) == 3, "resnet: images must be [B, 3, H, W], got ", images.str());
  if (cfg.bn_eval)
    for (const auto& bn : all_bn_) bn->eval();  // Module::train() on the parent switches them back on
  Tensor h = relu(bn1->forward(conv1->forward(images)));  // [B, 64, H/2, W/2]
  h = max_pool2d(h, {3, 3}, {2, 2}, {1, 1});              // [B, 64, H/4, W/4]
  for (const auto& layer : blocks)
    for (const auto& blk : layer) h = blk->forward(h);  // [B, C, H/32, W/32]
  if (!cfg.with_head) return h;
  h = adaptive_avg_pool2d(h, {1, 1}).flatten(1);  // [B, C]
  return fc->forward(h);
}

}  // namespace dive::model
