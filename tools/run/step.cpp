// The training step / eval encoding of `dive step` on safetensors inputs, and the closed-form
// deterministic initialisation the fixture tests share with test/reference/det_init.py.
#include "tools/run/step.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <vector>

#include "lib/io/safetensors.h"
#include "lib/ops/ops.h"

namespace dive::tools {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Tensor deterministic_values(const std::string& key, const Shape& shape, int64_t k) {
  if (ends_with(key, "num_batches_tracked")) return Tensor::zeros(shape, DType::i64);
  const int64_t n = shape_numel(shape);
  std::vector<float> v(size_t(n), 0.f);
  const bool mean = ends_with(key, ".running_mean"), var = ends_with(key, ".running_var");
  const bool matrix = shape.size() >= 2, norm_weight = shape.size() == 1 && ends_with(key, ".weight");
  const double fan_in = matrix ? std::sqrt(double(shape.back())) : 1.0;
  for (int64_t i = 0; i < n; ++i) {
    const double s = std::sin(double(7311 * i + 13700 * k) / 10000.0);
    double x;
    if (mean) x = s / 10.0;
    else if (var) x = 1.0 + std::fabs(s) / 2.0;
    else if (matrix) x = s / fan_in;
    else if (norm_weight) x = 1.0 + s / 10.0;
    else x = s / 10.0;
    v[size_t(i)] = float(x);
  }
  return Tensor::from_vector(v, shape);
}

}  // namespace

void deterministic_init(nn::Module& m) {
  const std::map<std::string, Tensor> sd = m.state_dict();  // sorted by key, byte order (= Python sorted())
  std::vector<std::pair<Tensor, Tensor>> done;               // (model tensor, its values)
  std::map<std::string, Tensor> values;
  int64_t k = 0;
  for (const auto& [key, t] : sd) {
    Tensor v;
    for (const auto& [seen, val] : done)
      if (seen.same(t)) {
        v = val;  // a shared tensor: the values of its first key
        break;
      }
    if (!v.defined()) {
      v = deterministic_values(key, t.shape(), k);
      done.emplace_back(t, v);
    }
    values[key] = v;
    ++k;
  }
  m.load_state_dict(values);
}

std::map<std::string, Tensor> run_step(const model::ModelConfig& cfg, const std::string& weights_path,
                                       const std::string& batch_path, Device dev, bool eval) {
  model::DiveModel m(cfg);
  auto weights = io::load_safetensors(weights_path, kCPU);
  try {
    m.load_state_dict(weights.tensors);
  } catch (const Error& e) {
    DIVE_FAIL(weights_path, ": ", e.what());
  }
  return run_step(m, batch_path, dev, eval);
}

std::map<std::string, Tensor> run_step(model::DiveModel& m, const std::string& batch_path, Device dev, bool eval) {
  const model::ModelConfig& cfg = m.cfg;
  m.to(dev);
  auto batch = model::prepare_batch(io::load_safetensors(batch_path, kCPU).tensors, cfg, dev, batch_path);
  DType dt = m.parameters().front().dtype();  // a model converted to f64 gets f64 images
  if (batch.images.dtype() != dt) batch.images = batch.images.to(dt);
  std::map<std::string, Tensor> out;
  if (eval) {
    m.eval();
    NoGradGuard ng;
    out["img_emb"] = m.encode_images(batch.images, batch.img_lengths).emb;
    out["txt_emb"] = m.encode_captions(batch.captions, batch.cap_lengths).emb;
    return out;
  }
  m.train();
  model::StepOutput o = m.forward(batch);
  o.loss.total.backward();
  out["img_emb"] = o.img.emb.detach();
  out["txt_emb"] = o.txt.emb.detach();
  out["loss"] = o.loss.total.detach();
  out["loss.i2t"] = o.loss.i2t.detach();
  out["loss.t2i"] = o.loss.t2i.detach();
  out["loss.mmd"] = o.loss.mmd.detach();
  out["loss.unif"] = o.loss.unif.detach();
  out["img_r"] = o.img.r.detach();
  out["txt_r"] = o.txt.r.detach();
  for (const auto& [name, p] : m.named_parameters())
    if (p.grad().defined()) out["grad." + name] = p.grad();
  // buffers after the step (BatchNorm running statistics, updated twice per step as officially)
  std::set<std::string> params;
  for (const auto& [name, p] : m.named_parameters()) params.insert(name);
  for (const auto& [name, t] : m.state_dict())
    if (!params.count(name) && name.find("running_") != std::string::npos) out["after." + name] = t;
  for (const auto& [name, t] : m.state_dict())
    if (name.find("num_batches_tracked") != std::string::npos) out["after." + name] = t;
  return out;
}

}  // namespace dive::tools
