#include "tools/run/checkpoint.h"

#include "lib/autograd/grad_mode.h"
#include "lib/io/safetensors.h"

namespace dive::tools {

namespace {
const char* kFormat = "dive-checkpoint-1";
}

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Adam* opt, const TrainState& st) {
  std::map<std::string, Tensor> t;
  for (const auto& [name, v] : model.state_dict()) t["model." + name] = v;
  std::map<std::string, std::string> meta{{"format", kFormat},
                                          {"epoch", std::to_string(st.epoch)},
                                          {"step", std::to_string(st.step)},
                                          {"best_rsum", std::to_string(st.best_rsum)},
                                          {"rng.seed", std::to_string(st.rng_seed)},
                                          {"rng.offset", std::to_string(st.rng_offset)},
                                          {"options", st.options}};
  if (opt) {
    auto named = model.named_parameters();
    auto& m = const_cast<optim::Adam*>(opt)->exp_avg();
    auto& v = const_cast<optim::Adam*>(opt)->exp_avg_sq();
    DIVE_CHECK(m.size() == named.size(), "checkpoint: optimizer holds ", m.size(), " states for ", named.size(),
               " parameters");
    // the optimizer's groups list parameters in named_parameters() order within each group; map by identity
    std::map<TensorImpl*, std::string> name_of;
    for (const auto& [n, p] : named) name_of[p.impl_ptr().get()] = n;
    size_t k = 0;
    for (const auto& g : const_cast<optim::Adam*>(opt)->groups())
      for (const auto& p : g.params) {
        const std::string& n = name_of.at(p.impl_ptr().get());
        t["optim.exp_avg." + n] = m[k];
        t["optim.exp_avg_sq." + n] = v[k];
        ++k;
      }
    meta["optim.steps"] = std::to_string(opt->steps());
  }
  io::save_safetensors(path, t, meta);
}

TrainState load_checkpoint(const std::string& path, nn::Module& model, optim::Adam* opt) {
  auto f = io::load_safetensors(path, kCPU);
  TrainState st;
  bool ours = f.metadata.count("format") && f.metadata.at("format") == kFormat;
  std::map<std::string, Tensor> sd;
  if (ours) {
    for (const auto& [k, v] : f.tensors)
      if (k.rfind("model.", 0) == 0) sd[k.substr(6)] = v;
  } else {
    sd = f.tensors;  // official names as converted from a .pth.tar
  }
  try {
    model.load_state_dict(sd);
  } catch (const Error& e) {
    DIVE_FAIL(path, ": ", e.what(), "\n  (was this checkpoint trained with other options? its options are stored "
              "in the file's metadata)");
  }
  if (!ours) return st;
  auto num = [&](const char* key) {
    auto it = f.metadata.find(key);
    DIVE_CHECK(it != f.metadata.end(), path, ": checkpoint metadata lacks '", key, "'");
    return it->second;
  };
  st.epoch = std::stoll(num("epoch"));
  st.step = std::stoll(num("step"));
  st.best_rsum = std::stod(num("best_rsum"));
  st.rng_seed = std::stoull(num("rng.seed"));
  st.rng_offset = std::stoull(num("rng.offset"));
  st.options = num("options");
  if (opt) {
    auto named = model.named_parameters();
    std::map<TensorImpl*, std::string> name_of;
    for (const auto& [n, p] : named) name_of[p.impl_ptr().get()] = n;
    size_t k = 0;
    NoGradGuard ng;
    for (const auto& g : opt->groups())
      for (const auto& p : g.params) {
        const std::string& n = name_of.at(p.impl_ptr().get());
        auto mi = f.tensors.find("optim.exp_avg." + n), vi = f.tensors.find("optim.exp_avg_sq." + n);
        DIVE_CHECK(mi != f.tensors.end() && vi != f.tensors.end(), path, ": no optimizer state for '", n, "'");
        opt->exp_avg()[k].copy_(mi->second);
        opt->exp_avg_sq()[k].copy_(vi->second);
        ++k;
      }
    opt->set_steps(std::stoll(num("optim.steps")));
  }
  return st;
}

std::string checkpoint_options(const std::string& path) {
  auto meta = io::load_safetensors_metadata(path);
  auto it = meta.find("options");
  return it == meta.end() ? "" : it->second;
}

}  // namespace dive::tools
