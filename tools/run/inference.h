// What eval, encode and search share: the flags that name a checkpoint and the split it runs on, and
// the model of a checkpoint built from its stored options (then --config and the flags).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/vse.h"
#include "tools/run/session.h"
#include "tools/run/split_data.h"

namespace dive::tools {

struct SplitFlags {
  std::string checkpoint, data_path, vocab_path, split = "test", data_name = "coco_butd", device = "cpu";
  DeviceFlags device_flags;
  int64_t batch_size_eval = 256;
  bool help = false;
};
// --checkpoint, --data_path, --data_name, --vocab_path, --split (with `split_help`), the device flags,
// --batch_size_eval and --help.
void add_split_flags(model::OptionSet& opts, SplitFlags& f, const std::string& split_help);

// Builds the model of a checkpoint: its stored options, then --config and flags. In eval mode on `dev`.
std::unique_ptr<model::DiveModel> load_model_for_inference(const std::vector<std::string>& args,
                                                           model::OptionSet& opts, model::ModelConfig& cfg,
                                                           const std::string& checkpoint, Device dev);

struct SplitModel {
  std::unique_ptr<model::DiveModel> model;
  data::Vocabulary vocab;
  std::string vocab_file;
  SplitData split;
};
// The checkpoint's model and the split of `f` it reads (the checkpoint's options, then the flags, say
// which image tower and hence which kind of data). `cmd` starts the errors ("eval: the checkpoint has a
// 1000-word vocabulary but ...").
SplitModel open_split_model(const std::string& cmd, const std::vector<std::string>& args, model::OptionSet& opts,
                            model::ModelConfig& cfg, const SplitFlags& f, Device dev);

}  // namespace dive::tools
