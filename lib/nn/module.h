// nn::Module: named parameters and buffers (PyTorch state_dict names), sub-modules, train/eval,
// device moves and strict state-dict loading. A sub-module registered under several names (weight
// sharing) appears under each name in state_dict() but once in parameters().
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/core/tensor.h"

namespace dive::nn {

class Module {
 public:
  virtual ~Module() = default;

  // (name, tensor) pairs, recursively, with dotted names; shared tensors listed once (first name).
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // Every parameter and buffer under every name it is reachable by (PyTorch's state_dict()).
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in. strict: missing, unexpected or mis-shaped entries are one dive::Error listing them all.
  void load_state_dict(const std::map<std::string, Tensor>& sd, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void to(Device dev);
  void to(DType dt);  // converts the floating parameters and buffers (f32 <-> f64)
  void zero_grad();
  int64_t num_parameters() const;

 protected:
  Tensor& register_parameter(const std::string& name, Tensor& slot, Tensor value);
  Tensor& register_buffer(const std::string& name, Tensor& slot, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  struct Slot {
    std::string name;
    Tensor* tensor;
    bool is_param;
  };
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Slot>>& out) const;

  std::vector<Slot> slots_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace dive::nn
