#include "tools/run/inference.h"

#include "tools/run/checkpoint.h"

namespace dive::tools {

void add_split_flags(model::OptionSet& opts, SplitFlags& f, const std::string& split_help) {
  opts.add("checkpoint", &f.checkpoint, "checkpoint or weights file (safetensors)");
  opts.add("data_path", &f.data_path,
           "region features: the folder with {split}_ims.npy and {split}_caps.txt; raw images (CNN branch): the "
           "folder with dataset_{coco,flickr30k,synth}.json");
  opts.add("data_name", &f.data_name, "coco_butd, f30k_butd, coco, f30k or synth (default: the checkpoint's)",
           {"coco_butd", "f30k_butd", "coco", "f30k", "synth"});
  opts.add("vocab_path", &f.vocab_path, "vocabulary file or a folder holding vocab.txt");
  opts.add("split", &f.split, split_help);
  add_device_options(opts, &f.device, &f.device_flags);
  opts.add("batch_size_eval", &f.batch_size_eval, "images/captions per encoding batch (captions are padded per batch)");
  opts.add("help", &f.help, "show the flags");
}

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

SplitModel open_split_model(const std::string& cmd, const std::vector<std::string>& args, model::OptionSet& opts,
                            model::ModelConfig& cfg, const SplitFlags& f, Device dev) {
  DIVE_CHECK(f.batch_size_eval >= 1, cmd, ": --batch_size_eval must be >= 1, got ", f.batch_size_eval);
  std::string vfile = vocab_file(f.vocab_path);
  data::Vocabulary vocab = data::Vocabulary::load(vfile);
  // the checkpoint's options, then the flags, say which image tower (cnn_type) and hence which data
  opts.load_ini_text(checkpoint_options(f.checkpoint), f.checkpoint + " (stored options)", true);
  opts.parse_args(args);
  SplitData ds = open_split(cfg, f.data_name, f.data_path, f.split);
  cfg.vocab_size = vocab.size();
  if (ds.precomp) cfg.img_dim = ds.precomp->feature_dim();
  auto m = load_model_for_inference(args, opts, cfg, f.checkpoint, dev);
  DIVE_CHECK(cfg.vocab_size == vocab.size(), cmd, ": the checkpoint has a ", cfg.vocab_size, "-word vocabulary but ",
             vfile, " has ", vocab.size());
  DIVE_CHECK(!ds.precomp || cfg.img_dim == ds.precomp->feature_dim(), cmd, ": the checkpoint expects ", cfg.img_dim,
             "-dim region features but ", f.data_path, " has ", ds.precomp ? ds.precomp->feature_dim() : 0);
  return SplitModel{std::move(m), std::move(vocab), vfile, std::move(ds)};
}

}  // namespace dive::tools
