#include "model/config.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "lib/core/error.h"

namespace dive::model {

namespace {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

void OptionSet::add(const std::string& n, int64_t* v, const std::string& h) { opts_[n] = {'i', v, h, {}}; }
void OptionSet::add(const std::string& n, double* v, const std::string& h) { opts_[n] = {'d', v, h, {}}; }
void OptionSet::add(const std::string& n, bool* v, const std::string& h) { opts_[n] = {'b', v, h, {}}; }
void OptionSet::add(const std::string& n, std::string* v, const std::string& h, std::vector<std::string> c) {
  opts_[n] = {'s', v, h, std::move(c)};
}

std::string OptionSet::nearest(const std::string& name) const {
  std::string best;
  size_t bd = SIZE_MAX;
  for (const auto& [n, o] : opts_) {
    size_t d = edit_distance(name, n);
    if (d < bd) {
      bd = d;
      best = n;
    }
  }
  return best;
}

void OptionSet::set(const std::string& name, const std::string& raw, const std::string& where) {
  auto it = opts_.find(name);
  DIVE_CHECK(it != opts_.end(), where, ": unknown option '", name, "'; did you mean '", nearest(name), "'?");
  const Opt& o = it->second;
  std::string v = trim(raw);
  try {
    size_t used = 0;
    switch (o.type) {
      case 'i': {
        int64_t x = std::stoll(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        *static_cast<int64_t*>(o.ptr) = x;
        return;
      }
      case 'd': {
        double x = std::stod(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        *static_cast<double*>(o.ptr) = x;
        return;
      }
      case 'b': {
        std::string l = v;
        std::transform(l.begin(), l.end(), l.begin(), ::tolower);
        if (l == "true" || l == "1" || l == "yes") *static_cast<bool*>(o.ptr) = true;
        else if (l == "false" || l == "0" || l == "no") *static_cast<bool*>(o.ptr) = false;
        else throw std::invalid_argument(v);
        return;
      }
      case 's': {
        if (!o.choices.empty() && std::find(o.choices.begin(), o.choices.end(), v) == o.choices.end()) {
          std::string all;
          for (const auto& c : o.choices) all += (all.empty() ? "" : ", ") + c;
          DIVE_FAIL(where, ": option '", name, "' must be one of {", all, "}, got '", v, "'");
        }
        *static_cast<std::string*>(o.ptr) = v;
        return;
      }
    }
  } catch (const std::logic_error&) {
    const char* want = o.type == 'i' ? "an integer" : o.type == 'd' ? "a number" : "true or false";
    DIVE_FAIL(where, ": option '", name, "' expects ", want, ", got '", v, "'");
  }
}

void OptionSet::load_ini(const std::string& path) {
  std::ifstream in(path);
  DIVE_CHECK(in.good(), "config file '", path, "' cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  load_ini_text(ss.str(), path);
}

void OptionSet::load_ini_text(const std::string& text, const std::string& source, bool lenient) {
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty() || line[0] == '[') continue;  // blank, comment or [section]
    auto eq = line.find('=');
    std::string where = source + ":" + std::to_string(lineno);
    DIVE_CHECK(eq != std::string::npos, where, ": expected 'name = value', got '", line, "'");
    std::string name = trim(line.substr(0, eq));
    if (lenient && !opts_.count(name)) continue;
    set(name, line.substr(eq + 1), where);
  }
}

std::vector<std::string> OptionSet::parse_args(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {  // --config first: the command line wins over the file
    if (args[i] == "--config") {
      DIVE_CHECK(i + 1 < args.size(), "--config: expected a file name");
      load_ini(args[i + 1]);
    } else if (args[i].rfind("--config=", 0) == 0) {
      load_ini(args[i].substr(9));
    }
  }
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config") {
      ++i;
      continue;
    }
    if (a.rfind("--config=", 0) == 0) continue;
    if (a.rfind("--", 0) != 0) {
      rest.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    auto eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = opts_.find(name);
    if (it == opts_.end() && name.rfind("no_", 0) == 0 && opts_.count(name.substr(3)) &&
        opts_.at(name.substr(3)).type == 'b') {
      set(name.substr(3), "false", a);
      continue;
    }
    DIVE_CHECK(it != opts_.end(), "unknown flag '", a, "'; did you mean '--", nearest(name), "'?");
    if (it->second.type == 'b' && !has_value) {
      // a bare boolean flag, unless the next word is an explicit true/false
      if (i + 1 < args.size() && (args[i + 1] == "true" || args[i + 1] == "false")) {
        set(name, args[++i], a);
      } else {
        set(name, "true", a);
      }
      continue;
    }
    if (!has_value) {
      DIVE_CHECK(i + 1 < args.size(), "flag '", a, "' expects a value");
      value = args[++i];
    }
    set(name, value, a);
  }
  return rest;
}

std::string OptionSet::help() const {
  std::ostringstream os;
  for (const auto& [n, o] : opts_) os << "  --" << n << (o.type == 'b' ? "" : " V") << "\t" << o.help << "\n";
  return os.str();
}

std::string OptionSet::dump() const {
  std::ostringstream os;
  for (const auto& [n, o] : opts_) {
    os << n << " = ";
    switch (o.type) {
      case 'i': os << *static_cast<int64_t*>(o.ptr); break;
      case 'd': {  // the shortest text that reads back as the same double
        double v = *static_cast<double*>(o.ptr);
        char buf[32];
        for (int prec = 6; prec <= 17; ++prec) {
          std::snprintf(buf, sizeof buf, "%.*g", prec, v);
          if (std::strtod(buf, nullptr) == v) break;
        }
        os << buf;
        break;
      }
      case 'b': os << (*static_cast<bool*>(o.ptr) ? "true" : "false"); break;
      case 's': os << *static_cast<std::string*>(o.ptr); break;
    }
    os << "\n";
  }
  return os.str();
}

void add_model_options(OptionSet& s, ModelConfig& c) {
  s.add("img_dim", &c.img_dim, "region feature size (BUTD: 2048)");
  s.add("embed_size", &c.embed_size, "joint embedding size D");
  s.add("word_dim", &c.word_dim, "word embedding size");
  s.add("vocab_size", &c.vocab_size, "vocabulary rows (incl. <mask>)");
  s.add("img_num_embeds", &c.img_num_embeds, "set size K for images");
  s.add("txt_num_embeds", &c.txt_num_embeds, "set size K for captions");
  s.add("arch", &c.arch, "set module: slot (DivE) or pvse (PIE-Net)", {"slot", "pvse"});
  s.add("cnn_type", &c.cnn_type, "image tower: none (BUTD features) or a torchvision ResNet",
        {"none", "", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"});
  s.add("img_finetune", &c.img_finetune, "train the CNN (else its parameters get no gradient)");
  s.add("bn_eval", &c.bn_eval, "keep the CNN BatchNorms in eval mode");
  s.add("crop_size", &c.crop_size, "image crop size for the CNN branch");
  s.add("spm_depth", &c.spm_depth, "aggregation block applications");
  s.add("spm_weight_sharing", &c.spm_weight_sharing, "share the block's weights across depth");
  s.add("spm_heads", &c.spm_heads, "attention heads");
  s.add("spm_dim_head", &c.spm_dim_head, "dimension per head");
  s.add("spm_ff_mult", &c.spm_ff_mult, "feed-forward width multiplier");
  s.add("spm_activation", &c.spm_activation, "feed-forward activation", {"gelu", "relu"});
  s.add("spm_pre_norm", &c.spm_pre_norm, "pre-norm blocks (must be true)");
  s.add("spm_last_ln", &c.spm_last_ln, "final LayerNorm of the set");
  s.add("spm_residual", &c.spm_residual, "add the global feature to every element");
  s.add("spm_residual_norm", &c.spm_residual_norm, "LayerNorm the global feature first");
  s.add("spm_txt_pos_enc_type", &c.spm_txt_pos_enc_type, "text key positional encoding", {"none", "sine"});
  s.add("spm_img_pos_enc_type", &c.spm_img_pos_enc_type, "image key positional encoding", {"none", "sine"});
  s.add("spm_attention", &c.spm_attention,
        "slot attention form, same function: auto (fewer FLOPs), folded (keys/values never projected), unfolded",
        {"auto", "folded", "unfolded"});
  s.add("pad_mask", &c.pad_mask, "padded keys: official (1/K weight) or strict (zero weight)", {"official", "strict"});
  s.add("gpo_1x1", &c.gpo_1x1, "residual MLP with BatchNorm after the image fc");
  s.add("gpo_rnn", &c.gpo_rnn, "GRU hidden size = embed_size, directions averaged");
  s.add("txt_attention_input", &c.txt_attention_input, "text set-module input", {"wemb"});
  s.add("txt_pooling", &c.txt_pooling, "text global feature", {"rnn"});
  s.add("img_res_pool", &c.img_res_pool, "image global pooling", {"max", "avg"});
  s.add("img_res_first_fc", &c.img_res_first_fc, "global feature through spm_fc first (must be true)");
  s.add("dropout", &c.dropout, "dropout of the text branch and set module");
  s.add("img_1x1_dropout", &c.img_1x1_dropout, "dropout after the image spm_fc");
  s.add("res_act_local_dropout", &c.res_act_local_dropout, "dropout on the set prediction before the residual");
  s.add("res_act_global_dropout", &c.res_act_global_dropout, "dropout on the global feature before the residual");
  s.add("loss", &c.loss, "training set similarity", {"smooth_chamfer", "chamfer", "max"});
  s.add("eval_similarity", &c.eval_similarity, "evaluation set similarity", {"smooth_chamfer", "chamfer", "max"});
  s.add("temperature", &c.temperature, "smooth-Chamfer temperature alpha");
  s.add("denominator", &c.denominator, "Chamfer denominator");
  s.add("margin", &c.margin, "triplet margin");
  s.add("max_violation", &c.max_violation, "hardest negative (else mean over violating negatives)");
  s.add("mmd_weight", &c.mmd_weight, "weight of the MMD term");
  s.add("unif_weight", &c.unif_weight, "weight of the diversity term");
  s.add("unif_residual", &c.unif_residual, "diversity term on the pre-residual set elements");
}

bool uses_cnn(const ModelConfig& c) { return cnn_depth(c) != 0; }

int cnn_depth(const ModelConfig& c) {
  if (c.cnn_type.empty() || c.cnn_type == "none") return 0;
  for (int d : {18, 34, 50, 101, 152})
    if (c.cnn_type == "resnet" + std::to_string(d)) return d;
  DIVE_FAIL("config: cnn_type must be none or resnet18/34/50/101/152, got '", c.cnn_type, "'");
}

void validate(const ModelConfig& c) {
  cnn_depth(c);
  DIVE_CHECK(c.crop_size >= 32, "config: crop_size must be >= 32, got ", c.crop_size);
  DIVE_CHECK(c.spm_img_pos_enc_type == "none" || (uses_cnn(c) && c.arch == "slot" && c.embed_size % 4 == 0),
             "config: spm_img_pos_enc_type sine needs the CNN branch (cnn_type resnet*), arch slot and embed_size "
             "divisible by 4 (two sine encodings of embed_size/2)");
  DIVE_CHECK(c.embed_size > 0 && c.word_dim > 0 && c.img_dim > 0 && c.vocab_size > 4,
             "config: embed_size, word_dim, img_dim must be positive and vocab_size > 4");
  DIVE_CHECK(c.img_num_embeds >= 1 && c.txt_num_embeds >= 1, "config: img_num_embeds/txt_num_embeds must be >= 1");
  DIVE_CHECK(c.spm_depth >= 1 && c.spm_heads >= 1 && c.spm_dim_head >= 1, "config: spm_depth, spm_heads, spm_dim_head must be >= 1");
  DIVE_CHECK(c.spm_pre_norm, "config: spm_pre_norm = false (post-norm blocks) is not supported");
  DIVE_CHECK(c.img_res_first_fc, "config: img_res_first_fc = false is not supported");
  DIVE_CHECK(c.embed_size % 2 == 0 || !c.gpo_1x1, "config: gpo_1x1 needs an even embed_size");
  DIVE_CHECK(c.word_dim % 2 == 0 || c.spm_txt_pos_enc_type == "none" || c.arch == "pvse",
             "config: the sine encoding needs an even word_dim");
  DIVE_CHECK(c.arch != "pvse" || (c.embed_size >= 2 && c.word_dim >= 2),
             "config: arch pvse needs embed_size >= 2 and word_dim >= 2 (PIE-Net hidden widths embed_size/2, word_dim/2)");
  DIVE_CHECK(c.temperature > 0 && c.denominator > 0, "config: temperature and denominator must be positive");
  DIVE_CHECK(c.dropout >= 0 && c.dropout < 1 && c.img_1x1_dropout >= 0 && c.img_1x1_dropout < 1,
             "config: dropout probabilities must be in [0, 1)");
}

}  // namespace dive::model
