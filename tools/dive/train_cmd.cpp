// dive train: the official training recipe (train.py + train_eval_coco.sh) on BUTD precomp data, or on
// raw images with the CNN branch (--cnn_type resnet*). The loop itself is tools/run/train.cpp.
#include <cstdio>

#include "tools/dive/commands.h"
#include "tools/run/checkpoint.h"
#include "tools/run/train.h"

namespace dive::tools {

int cmd_train(const std::vector<std::string>& args) {
  model::ModelConfig cfg;
  TrainOptions o;
  model::OptionSet opts;
  model::add_model_options(opts, cfg);
  add_train_options(opts, o);
  // a resumed run starts from the options it was trained with; flags given now still win
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--resume") opts.load_ini_text(checkpoint_options(args[i + 1]), args[i + 1] + " (stored options)", true);
  auto rest = opts.parse_args(args);
  if (o.help) {
    std::printf("usage: dive train --data_path DIR --vocab_path FILE [flags]\n%s", opts.help().c_str());
    return 0;
  }
  DIVE_CHECK(rest.empty(), "train: unexpected argument '", rest.empty() ? "" : rest[0], "'");
  DIVE_CHECK(!o.data_path.empty(), "train: --data_path is required");
  DIVE_CHECK(!o.vocab_path.empty(), "train: --vocab_path is required");
  DIVE_CHECK(o.batch_size >= 2, "train: --batch_size must be >= 2 (the loss needs negatives), got ", o.batch_size);
  TrainResult r = run_training(cfg, o, opts.dump());
  if (r.interrupted) return 130;
  return r.diverged ? 1 : 0;
}

}  // namespace dive::tools
