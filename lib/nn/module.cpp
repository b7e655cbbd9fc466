#include "lib/nn/module.h"

#include <set>
#include <sstream>

#include "lib/autograd/grad_mode.h"

namespace dive::nn {

Tensor& Module::register_parameter(const std::string& name, Tensor& slot, Tensor value) {
  slot = value.detach();
  slot.set_requires_grad(true);
  slots_.push_back({name, &slot, true});
  return slot;
}

Tensor& Module::register_buffer(const std::string& name, Tensor& slot, Tensor value) {
  slot = value.detach();
  slots_.push_back({name, &slot, false});
  return slot;
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Slot>>& out) const {
  for (const auto& s : slots_) out.emplace_back(prefix + s.name, s);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Slot>> all;
  collect("", all);
  std::set<TensorImpl*> seen;
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, s] : all) {
    if (!s.is_param) continue;
    if (!seen.insert(s.tensor->impl_ptr().get()).second) continue;
    out.emplace_back(name, *s.tensor);
  }
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::vector<std::pair<std::string, Slot>> all;
  collect("", all);
  std::map<std::string, Tensor> sd;
  for (const auto& [name, s] : all) sd[name] = *s.tensor;
  return sd;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& sd, bool strict) {
  std::vector<std::pair<std::string, Slot>> all;
  collect("", all);
  std::vector<std::string> missing, mis_shaped, unexpected;
  std::set<std::string> known;
  for (const auto& [name, s] : all) {
    known.insert(name);
    auto it = sd.find(name);
    if (it == sd.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.shape() != s.tensor->shape()) {
      mis_shaped.push_back(name + " (file " + shape_str(it->second.shape()) + ", model " +
                           shape_str(s.tensor->shape()) + ")");
    }
  }
  for (const auto& [name, t] : sd)
    if (!known.count(name)) unexpected.push_back(name);
  bool bad = !mis_shaped.empty() || (strict && (!missing.empty() || !unexpected.empty()));
  if (bad) {
    std::ostringstream os;
    os << "load_state_dict: the weights do not match the model configuration";
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      os << "\n  " << what << " (" << v.size() << "):";
      for (size_t i = 0; i < v.size() && i < 20; ++i) os << "\n    " << v[i];
      if (v.size() > 20) os << "\n    ... and " << v.size() - 20 << " more";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    list("wrong shape", mis_shaped);
    DIVE_FAIL(os.str());
  }
  NoGradGuard ng;
  for (const auto& [name, s] : all) {
    auto it = sd.find(name);
    if (it == sd.end()) continue;
    const Tensor& src = it->second;
    Tensor v = src.device() == s.tensor->device() ? src : src.to(s.tensor->device());
    if (v.dtype() != s.tensor->dtype()) v = v.to(s.tensor->dtype());
    s.tensor->copy_(v);
  }
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::to(Device dev) {
  std::vector<std::pair<std::string, Slot>> all;
  collect("", all);
  // A shared sub-module is reached under several names but owns each tensor slot once.
  std::set<Tensor*> done;
  for (auto& [name, s] : all) {
    if (!done.insert(s.tensor).second) continue;
    Tensor m = s.tensor->detach().to(dev);
    if (s.is_param) m.set_requires_grad(true);
    *s.tensor = m;
  }
}

void Module::to(DType dt) {
  std::vector<std::pair<std::string, Slot>> all;
  collect("", all);
  std::set<Tensor*> done;
  for (auto& [name, s] : all) {
    if (!done.insert(s.tensor).second || !is_floating(s.tensor->dtype())) continue;
    Tensor m = s.tensor->detach().to(dt);
    if (s.is_param) m.set_requires_grad(true);
    *s.tensor = m;
  }
}

void Module::zero_grad() {
  for (auto& t : parameters()) t.zero_grad();
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& t : parameters()) n += t.numel();
  return n;
}

}  // namespace dive::nn
