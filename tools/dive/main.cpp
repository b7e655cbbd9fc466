// dive <command> [flags]. Library errors are caught here, printed as "error: ...", exit status 1.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "lib/core/error.h"
#include "tools/dive/commands.h"

namespace {
void usage() {
  std::printf(
      "usage: dive <command> [flags]\n\n"
      "commands:\n"
      "  train  train DivE on BUTD precomp data (official flags; progress, validation, checkpoints, --resume)\n"
      "  eval   recall table (R@1/5/10, medr, meanr, RSUM; COCO 1K and 5K) of a checkpoint on a split\n"
      "  encode embeddings of every image and caption of a split into an index folder (for search)\n"
      "  search query an encoded index with a caption (--text) or one of its images (--image_id)\n"
      "  step   one training step's forward and backward (or --eval embeddings) from safetensors inputs\n"
      "  synth  write the synthetic multi-object demo dataset (precomp features, PNGs, Karpathy JSON)\n\n"
      "run 'dive <command> --help' for the flags of a command\n");
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    usage();
    return args.empty() ? 2 : 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "step") return dive::tools::cmd_step(args);
    if (cmd == "synth") return dive::tools::cmd_synth(args);
    if (cmd == "train") return dive::tools::cmd_train(args);
    if (cmd == "eval") return dive::tools::cmd_eval(args);
    if (cmd == "encode") return dive::tools::cmd_encode(args);
    if (cmd == "search") return dive::tools::cmd_search(args);
    std::fprintf(stderr, "error: unknown command '%s'\n", cmd.c_str());
    usage();
    return 2;
  } catch (const dive::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
