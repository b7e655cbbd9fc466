// Model and loss configuration with the official option names (option.py), settable from command-line
// flags (--name value, --flag) and INI files (name = value). Defaults are train_eval_coco.sh's.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace dive::model {

struct ModelConfig {
  // dimensions
  int64_t img_dim = 2048;        // BUTD region feature size (2048 in the official data)
  int64_t embed_size = 1024;
  int64_t word_dim = 300;
  int64_t vocab_size = 11354;    // coco_butd vocabulary incl. <mask>
  int64_t img_num_embeds = 4;    // K for images
  int64_t txt_num_embeds = 4;    // K for captions
  std::string arch = "slot";     // slot (DivE) | pvse (PIE-Net)
  // CNN image branch (docs/MODEL.md §2.6): none (BUTD precomputed features) | resnet18/34/50/101/152
  std::string cnn_type = "none";
  bool img_finetune = false;     // train the CNN (else it gets no gradient)
  bool bn_eval = false;          // CNN BatchNorms in eval mode (running statistics, no updates)
  int64_t crop_size = 224;       // training/test crop of the raw images
  // set-prediction module
  int64_t spm_depth = 4;
  bool spm_weight_sharing = true;
  int64_t spm_heads = 4;         // hard-coded 4 in the official agg_block.py
  int64_t spm_dim_head = 512;    // hard-coded 512 in the official agg_block.py
  double spm_ff_mult = 4;
  std::string spm_activation = "gelu";
  bool spm_pre_norm = true;
  bool spm_last_ln = true;
  bool spm_residual = true;
  bool spm_residual_norm = true;
  std::string spm_txt_pos_enc_type = "sine";
  std::string spm_img_pos_enc_type = "none";
  // how the slot attention is computed (same function): auto (cost model) | folded | unfolded (docs/MODEL.md §2.4)
  std::string spm_attention = "auto";
  std::string pad_mask = "official";  // official (padded keys get 1/K, docs/MODEL.md §6.1) | strict
  // encoders
  bool gpo_1x1 = true;
  bool gpo_rnn = true;
  std::string txt_attention_input = "wemb";
  std::string txt_pooling = "rnn";
  std::string img_res_pool = "max";
  bool img_res_first_fc = true;
  double dropout = 0.1;
  double img_1x1_dropout = 0.1;
  double res_act_local_dropout = 0;   // dropout on the set prediction before the residual
  double res_act_global_dropout = 0;  // dropout on the global feature before the residual
  // similarity and loss
  std::string loss = "smooth_chamfer";             // smooth_chamfer | chamfer | max
  std::string eval_similarity = "smooth_chamfer";
  double temperature = 16;
  double denominator = 2;
  double margin = 0.2;
  bool max_violation = true;
  double mmd_weight = 0.01;
  double unif_weight = 0.01;
  bool unif_residual = true;
};

// A set of named options bound to struct fields: parses flags and INI files, rejects unknown names
// (suggesting the nearest known one) and malformed values (naming the option and the expected type).
class OptionSet {
 public:
  void add(const std::string& name, int64_t* v, const std::string& help);
  void add(const std::string& name, double* v, const std::string& help);
  void add(const std::string& name, bool* v, const std::string& help);
  void add(const std::string& name, std::string* v, const std::string& help,
           std::vector<std::string> choices = {});

  bool has(const std::string& name) const { return opts_.count(name) > 0; }
  // Sets one option from text; `where` names the source for messages ("--spm_depth", "c.ini:3").
  void set(const std::string& name, const std::string& value, const std::string& where);
  // name = value lines, '#' comments, blank lines; booleans true/false (also 1/0, yes/no).
  void load_ini(const std::string& path);
  // The same from text; `source` names it in messages. Unknown names are skipped when lenient (for the
  // options stored in a checkpoint, which include training flags a command may not have).
  void load_ini_text(const std::string& text, const std::string& source, bool lenient = false);
  // Parses argv: "--name value", "--name=value", "--flag" (booleans), "--no_flag". `--config FILE` is
  // loaded first wherever it appears, so flags on the command line win. Returns the non-option args.
  std::vector<std::string> parse_args(const std::vector<std::string>& args);
  std::string nearest(const std::string& name) const;
  std::string help() const;
  // "name = value" lines of every option, for logs and checkpoints.
  std::string dump() const;

 private:
  struct Opt {
    char type;  // i, d, b, s
    void* ptr;
    std::string help;
    std::vector<std::string> choices;
  };
  std::map<std::string, Opt> opts_;
};

// True when the image tower is the CNN branch (cnn_type resnet*), false for BUTD features.
bool uses_cnn(const ModelConfig& c);
// The ResNet depth of cnn_type (18, 34, 50, 101, 152); 0 for none.
int cnn_depth(const ModelConfig& c);

// Registers every ModelConfig field under its official name.
void add_model_options(OptionSet& set, ModelConfig& c);
// Checks cross-field constraints (dims divisible, choices known) with messages naming the options.
void validate(const ModelConfig& c);

}  // namespace dive::model
