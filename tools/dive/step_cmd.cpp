// dive step: one training step's forward and backward (or --eval embeddings) from safetensors inputs.
#include <cstdio>

#include "lib/io/safetensors.h"
#include "tools/dive/commands.h"
#include "tools/run/session.h"
#include "tools/run/step.h"

namespace dive::tools {

int cmd_step(const std::vector<std::string>& args) {
  model::ModelConfig cfg;
  model::OptionSet opts;
  model::add_model_options(opts, cfg);
  std::string weights, batch, out, device = "cpu", init;
  bool eval = false, help = false;
  opts.add("weights", &weights, "model weights (safetensors, official state_dict names)");
  opts.add("batch", &batch, "batch (safetensors: images, img_lengths, captions, cap_lengths)");
  opts.add("init", &init, "'deterministic': closed-form weights (test/reference/det_init.py) instead of --weights");
  opts.add("out", &out, "output safetensors file");
  DeviceFlags dflags;
  add_device_options(opts, &device, &dflags);
  opts.add("eval", &eval, "eval mode: embeddings only, BatchNorm running statistics");
  opts.add("help", &help, "show the flags");
  auto rest = opts.parse_args(args);
  if (help) {
    std::printf("usage: dive step --config C.ini (--weights W | --init deterministic) --batch B --out O"
                " [--device D] [--eval]\n%s",
                opts.help().c_str());
    return 0;
  }
  DIVE_CHECK(rest.empty(), "step: unexpected argument '", rest.empty() ? "" : rest[0], "'");
  DIVE_CHECK(init.empty() || init == "deterministic", "step: --init must be 'deterministic', not '", init, "'");
  DIVE_CHECK(init.empty() != weights.empty(), "step: give exactly one of --weights and --init deterministic");
  DIVE_CHECK(!batch.empty(), "step: --batch is required");
  DIVE_CHECK(!out.empty(), "step: --out is required");
  std::map<std::string, Tensor> result;
  if (init.empty()) {
    result = run_step(cfg, weights, batch, open_device(device, dflags), eval);
  } else {
    model::DiveModel m(cfg);
    deterministic_init(m);
    result = run_step(m, batch, open_device(device, dflags), eval);
  }
  io::save_safetensors(out, result, {{"tool", "dive step"}, {"device", device}});
  if (result.count("loss"))
    std::printf("loss %.6f (i2t %.6f, t2i %.6f, mmd %.6f, unif %.6f); wrote %zu tensors to %s\n",
                result["loss"].item<double>(), result["loss.i2t"].item<double>(), result["loss.t2i"].item<double>(),
                result["loss.mmd"].item<double>(), result["loss.unif"].item<double>(), result.size(), out.c_str());
  else
    std::printf("wrote %zu tensors to %s\n", result.size(), out.c_str());
  return 0;
}

}  // namespace dive::tools
