// dive eval: the official evaluation protocol (eval.py) on a BUTD precomp split or, for the CNN branch, on
// the raw images of a Karpathy split (test transform).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/session.h"

namespace dive::tools {

// Builds the model of a checkpoint: its stored options, then --config and flags (shared by eval, encode,
// search). Returns the remaining non-option arguments.
std::unique_ptr<model::DiveModel> load_model_for_inference(const std::vector<std::string>& args,
                                                           model::OptionSet& opts, model::ModelConfig& cfg,
                                                           const std::string& checkpoint, Device dev) {
  opts.load_ini_text(checkpoint_options(checkpoint), checkpoint + " (stored options)", true);
  opts.parse_args(args);
  auto m = std::make_unique<model::DiveModel>(cfg);
  load_checkpoint(checkpoint, *m, nullptr);
  m->to(dev);
  m->eval();
  return m;
}

int cmd_eval(const std::vector<std::string>& args) {
  model::ModelConfig cfg;
  model::OptionSet opts;
  model::add_model_options(opts, cfg);
  std::string checkpoint, data_path, vocab_path, split = "test", data_name = "coco_butd", device = "cpu", json;
  int64_t batch_size_eval = 256;
  bool help = false;
  opts.add("checkpoint", &checkpoint, "checkpoint or weights file (safetensors)");
  opts.add("data_path", &data_path,
           "region features: the folder with {split}_ims.npy and {split}_caps.txt; raw images (CNN branch): the "
           "folder with dataset_{coco,flickr30k,synth}.json");
  opts.add("vocab_path", &vocab_path, "vocabulary file or a folder holding vocab.txt");
  opts.add("split", &split,
           "split: test, testall (COCO 5K + 1K folds) or dev; raw images: test (COCO: 5K + 1K folds), val or train");
  opts.add("data_name", &data_name, "coco_butd, f30k_butd, coco, f30k or synth (default: the checkpoint's)",
           {"coco_butd", "f30k_butd", "coco", "f30k", "synth"});
  DeviceFlags dflags;
  add_device_options(opts, &device, &dflags);
  opts.add("json", &json, "also write the metrics as JSON to this file");
  opts.add("batch_size_eval", &batch_size_eval, "images/captions per encoding batch");
  opts.add("help", &help, "show the flags");
  auto rest = opts.parse_args(args);  // first pass: --checkpoint and friends
  if (help) {
    std::printf("usage: dive eval --checkpoint CKPT --data_path DIR --vocab_path FILE [--split test]\n%s",
                opts.help().c_str());
    return 0;
  }
  DIVE_CHECK(rest.empty(), "eval: unexpected argument '", rest.empty() ? "" : rest[0], "'");
  DIVE_CHECK(!checkpoint.empty() && !data_path.empty() && !vocab_path.empty(),
             "eval: --checkpoint, --data_path and --vocab_path are required");
  Device dev = open_device(device, dflags);
  std::string vfile = std::filesystem::is_directory(vocab_path) ? vocab_path + "/vocab.txt" : vocab_path;
  data::Vocabulary vocab = data::Vocabulary::load(vfile);
  // the checkpoint's options, then the flags, say which image tower (cnn_type) and hence which data
  opts.load_ini_text(checkpoint_options(checkpoint), checkpoint + " (stored options)", true);
  opts.parse_args(args);
  SplitData ds = open_split(cfg, data_name, data_path, split);
  cfg.vocab_size = vocab.size();
  if (ds.precomp) cfg.img_dim = ds.precomp->feature_dim();
  auto m = load_model_for_inference(args, opts, cfg, checkpoint, dev);
  DIVE_CHECK(cfg.vocab_size == vocab.size(), "eval: the checkpoint has a ", cfg.vocab_size, "-word vocabulary but ",
             vfile, " has ", vocab.size());
  std::printf("%s\n", ds.describe().c_str());
  auto t0 = std::chrono::steady_clock::now();
  Encoded e = encode_split(*m, ds, vocab, dev, batch_size_eval, true);
  auto rows = evaluate(cfg, e, dev);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s", model::format_table(rows).c_str());
  std::printf("(%s similarity, %s, %.1f s)\n", cfg.eval_similarity.c_str(), dev.str().c_str(), secs);
  if (!json.empty()) {
    std::ofstream f(json);
    f << "{";
    for (size_t i = 0; i < rows.size(); ++i)
      f << (i ? ", " : "") << "\"" << rows[i].first << "\": " << model::to_json(rows[i].second);
    f << "}\n";
    DIVE_CHECK(f.good(), "eval: cannot write ", json);
  }
  return 0;
}

}  // namespace dive::tools
