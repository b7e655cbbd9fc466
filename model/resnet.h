// torchvision ResNet-18/34/50/101/152 (v1.5: the stride sits on the 3x3 conv of a Bottleneck) with
// torchvision's exact state_dict names: conv1, bn1, layer{1..4}.{i}.conv{1,2[,3]}, .bn{1,2[,3]},
// .downsample.{0 (1x1 conv), 1 (BN)}, fc (only with the head). Init as torchvision: convs
// kaiming_normal_(fan_out, relu), BN weight 1 / bias 0, fc nn.Linear's default, zero_init_residual off.
// The DivE CNN branch (docs/MODEL.md §2.6) drops avgpool and fc: with_head = false returns the layer4 map.
#pragma once
#include <memory>
#include <vector>

#include "lib/nn/layers.h"

namespace dive::model {

// A container whose children are named by index ("0", "1", ...), like nn.Sequential.
class IndexedModules : public nn::Module {
 public:
  template <class M>
  std::shared_ptr<M> add(std::shared_ptr<M> m) {
    return register_module(std::to_string(count_++), std::move(m));
  }

 private:
  int count_ = 0;
};

// conv1x1 (stride) + BN, registered as "downsample" with children "0" and "1".
class Downsample : public nn::Module {
 public:
  Downsample(int64_t in, int64_t out, int64_t stride);
  Tensor forward(const Tensor& x);  // [B, in, H, W] -> [B, out, H/stride, W/stride]
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::BatchNorm2d> bn;
};

// BasicBlock (expansion 1: two 3x3 convs) or Bottleneck (expansion 4: 1x1, 3x3 with the stride, 1x1).
class ResBlock : public nn::Module {
 public:
  ResBlock(bool bottleneck, int64_t in, int64_t planes, int64_t stride);
  Tensor forward(const Tensor& x);  // [B, in, H, W] -> [B, planes * expansion, H/stride, W/stride]
  bool bottleneck;
  std::vector<std::shared_ptr<nn::Conv2d>> convs;
  std::vector<std::shared_ptr<nn::BatchNorm2d>> bns;
  std::shared_ptr<Downsample> downsample;  // null when the shape is unchanged
};

struct ResNetConfig {
  int depth = 18;          // 18, 34, 50, 101 or 152
  bool with_head = false;  // avgpool + fc (num_classes); without: forward returns the layer4 feature map
  int64_t num_classes = 1000;
  bool bn_eval = false;    // keep every BatchNorm in eval mode (running statistics, no updates) while training
};

class ResNet : public nn::Module {
 public:
  explicit ResNet(const ResNetConfig& cfg);
  // images [B, 3, H, W] -> with_head: logits [B, num_classes]; else the layer4 map [B, out_channels(), H/32, W/32]
  Tensor forward(const Tensor& images);
  int64_t out_channels() const { return out_channels_; }

  ResNetConfig cfg;
  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::vector<std::shared_ptr<IndexedModules>> layers;  // layer1..layer4
  std::vector<std::vector<std::shared_ptr<ResBlock>>> blocks;
  std::shared_ptr<nn::Linear> fc;  // with_head only

 private:
  int64_t out_channels_ = 0;
  std::vector<std::shared_ptr<nn::BatchNorm2d>> all_bn_;
};

}  // namespace dive::model
