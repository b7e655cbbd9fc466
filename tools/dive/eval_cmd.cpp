// dive eval: the official evaluation protocol (eval.py) on a BUTD precomp split or, for the CNN branch, on
// the raw images of a Karpathy split (test transform).
#include <chrono>
#include <cstdio>
#include <fstream>

#include "tools/dive/commands.h"
#include "tools/run/inference.h"

namespace dive::tools {

int cmd_eval(const std::vector<std::string>& args) {
  model::ModelConfig cfg;
  model::OptionSet opts;
  model::add_model_options(opts, cfg);
  SplitFlags f;
  std::string json;
  add_split_flags(opts, f, "split: test, testall (COCO 5K + 1K folds) or dev; raw images: test (COCO: 5K + 1K folds), "
                           "val or train");
  opts.add("json", &json, "also write the metrics as JSON to this file");
  auto rest = opts.parse_args(args);  // first pass: --checkpoint and friends
  if (f.help) {
    std::printf("usage: dive eval --checkpoint CKPT --data_path DIR --vocab_path FILE [--split test]\n%s",
                opts.help().c_str());
    return 0;
  }
  DIVE_CHECK(rest.empty(), "eval: unexpected argument '", rest.empty() ? "" : rest[0], "'");
  DIVE_CHECK(!f.checkpoint.empty() && !f.data_path.empty() && !f.vocab_path.empty(),
             "eval: --checkpoint, --data_path and --vocab_path are required");
  Device dev = open_device(f.device, f.device_flags);
  SplitModel sm = open_split_model("eval", args, opts, cfg, f, dev);
  std::printf("%s\n", sm.split.describe().c_str());
  auto t0 = std::chrono::steady_clock::now();
  Encoded e = encode_split(*sm.model, sm.split, sm.vocab, dev, f.batch_size_eval, true);
  auto rows = evaluate(cfg, e, dev);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s", model::format_table(rows).c_str());
  std::printf("(%s similarity, %s, %.1f s)\n", cfg.eval_similarity.c_str(), dev.str().c_str(), secs);
  if (!json.empty()) {
    std::ofstream out(json);
    out << "{";
    for (size_t i = 0; i < rows.size(); ++i)
      out << (i ? ", " : "") << "\"" << rows[i].first << "\": " << model::to_json(rows[i].second);
    out << "}\n";
    DIVE_CHECK(out.good(), "eval: cannot write ", json);
  }
  return 0;
}

}  // namespace dive::tools
