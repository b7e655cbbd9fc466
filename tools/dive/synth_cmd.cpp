// dive synth: writes the synthetic multi-object demo dataset (data/synth.h) in both formats.
#include <cstdio>

#include "data/synth.h"
#include "lib/core/error.h"
#include "model/config.h"
#include "tools/dive/commands.h"

namespace dive::tools {

int cmd_synth(const std::vector<std::string>& args) {
  data::SynthOptions o;
  std::string out;
  int64_t seed = 0;
  bool help = false;
  model::OptionSet opts;
  opts.add("out", &out, "output folder (precomp/, images/, dataset_synth.json)");
  opts.add("seed", &seed, "random seed: the same seed gives byte-identical files");
  opts.add("train", &o.train, "training images");
  opts.add("dev", &o.dev, "validation images");
  opts.add("test", &o.test, "test images");
  opts.add("image_size", &o.image_size, "PNG side in pixels");
  opts.add("regions", &o.regions, "region rows per image in the precomp features (>= 5)");
  opts.add("feature_dim", &o.feature_dim, "region feature dimension");
  opts.add("images", &o.images, "also write the PNG images and the Karpathy JSON (--no_images: precomp only)");
  opts.add("help", &help, "show the flags");
  auto rest = opts.parse_args(args);
  if (help) {
    std::printf("usage: dive synth --out DIR [--seed S] [--train N] [--dev N] [--test N] [--image_size 64]"
                " [--regions 12] [--feature_dim 256] [--no_images]\n%s",
                opts.help().c_str());
    return 0;
  }
  DIVE_CHECK(rest.empty(), "synth: unexpected argument '", rest.empty() ? "" : rest[0], "'");
  DIVE_CHECK(!out.empty(), "synth: --out is required");
  DIVE_CHECK(seed >= 0, "synth: --seed must be non-negative, got ", seed);
  o.seed = uint64_t(seed);
  const data::SynthSummary s = data::write_synth_dataset(out, o);
  char unique[64] = "";
  if (o.test > 0)
    std::snprintf(unique, sizeof unique, ", %.0f%% of test captions fit only their image", 100.0 * s.unique_test_captions);
  std::printf("synth: %lld images (%lld/%lld/%lld), %lld captions, %lld x %lld features, vocab %lld%s, %.2f s -> %s\n",
              (long long)s.images, (long long)o.train, (long long)o.dev, (long long)o.test, (long long)s.captions,
              (long long)o.regions, (long long)o.feature_dim, (long long)s.vocab_size, unique, s.seconds, out.c_str());
  return 0;
}

}  // namespace dive::tools
