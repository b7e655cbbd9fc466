// dive encode: eval-mode embeddings of every image and caption of a BUTD precomp split (or, for the CNN
// branch, of a raw-image Karpathy split), written as an embedding index folder (tools/run/embedding_index.h)
// for `dive search`.
#include <chrono>
#include <cstdio>

#include "tools/dive/commands.h"
#include "tools/run/embedding_index.h"
#include "tools/run/inference.h"

namespace dive::tools {

int cmd_encode(const std::vector<std::string>& args) {
  model::ModelConfig cfg;
  model::OptionSet opts;
  model::add_model_options(opts, cfg);
  SplitFlags f;
  std::string out;
  add_split_flags(opts, f, "split to encode (test, testall, dev, train; raw images: test, val, train)");
  opts.add("out", &out, "output folder: img_emb.npy, txt_emb.npy, captions.txt, meta.json");
  auto rest = opts.parse_args(args);
  if (f.help) {
    std::printf("usage: dive encode --checkpoint CKPT --data_path DIR --vocab_path V --split S --out OUTDIR"
                " [--device cpu]\n"
                "Writes OUTDIR/img_emb.npy f32 [N, K, D], OUTDIR/txt_emb.npy f32 [5N, K, D], OUTDIR/captions.txt\n"
                "(line j = caption row j, image j / 5) and OUTDIR/meta.json, for 'dive search --index OUTDIR'.\n%s",
                opts.help().c_str());
    return 0;
  }
  DIVE_CHECK(rest.empty(), "encode: unexpected argument '", rest.empty() ? "" : rest[0], "'");
  DIVE_CHECK(!f.checkpoint.empty() && !f.data_path.empty() && !f.vocab_path.empty() && !out.empty(),
             "encode: --checkpoint, --data_path, --vocab_path and --out are required");
  Device dev = open_device(f.device, f.device_flags);
  SplitModel sm = open_split_model("encode", args, opts, cfg, f, dev);
  const SplitData& ds = sm.split;
  std::printf("%s\n", ds.describe().c_str());
  auto t0 = std::chrono::steady_clock::now();
  Encoded e = encode_split(*sm.model, ds, sm.vocab, dev, f.batch_size_eval, true);
  EmbeddingIndex x;
  x.img = e.img;
  x.txt = e.txt;
  for (int64_t j = 0; j < ds.num_captions(); ++j) x.captions.push_back(ds.caption(j));
  IndexMeta& mt = x.meta;
  mt.checkpoint = f.checkpoint;
  mt.data_path = f.data_path;
  mt.vocab_path = sm.vocab_file;
  mt.split = f.split;
  mt.num_images = e.img.size(0);
  mt.num_captions = e.txt.size(0);
  mt.img_num_embeds = e.img.size(1);
  mt.txt_num_embeds = e.txt.size(1);
  mt.embed_size = e.img.size(2);
  mt.img_dim = cfg.img_dim;
  mt.vocab_size = cfg.vocab_size;
  mt.eval_similarity = cfg.eval_similarity;
  mt.temperature = cfg.temperature;
  mt.denominator = cfg.denominator;
  save_index(out, x);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("encode: %lld images x %lld x %lld, %lld captions x %lld x %lld (%s, %.1f s) -> %s\n",
              (long long)mt.num_images, (long long)mt.img_num_embeds, (long long)mt.embed_size,
              (long long)mt.num_captions, (long long)mt.txt_num_embeds, (long long)mt.embed_size, dev.str().c_str(),
              secs, out.c_str());
  return 0;
}

}  // namespace dive::tools
