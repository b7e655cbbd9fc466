// dive encode: eval-mode embeddings of every image and caption of a BUTD precomp split (or, for the CNN
// branch, of a raw-image Karpathy split), written as an embedding index folder (tools/embedding_index.h)
// for `dive search`.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/embedding_index.h"
#include "tools/session.h"

namespace dive::tools {

int cmd_encode(const std::vector<std::string>& args) {
  model::ModelConfig cfg;
  model::OptionSet opts;
  model::add_model_options(opts, cfg);
  std::string checkpoint, data_path, vocab_path, split = "test", out, device = "cpu", data_name = "coco_butd";
  int64_t batch_size_eval = 256;
  bool help = false;
  opts.add("checkpoint", &checkpoint, "checkpoint or weights file (safetensors)");
  opts.add("data_path", &data_path,
           "region features: the folder with {split}_ims.npy and {split}_caps.txt; raw images (CNN branch): the "
           "folder with dataset_{coco,flickr30k,synth}.json");
  opts.add("data_name", &data_name, "coco_butd, f30k_butd, coco, f30k or synth (default: the checkpoint's)",
           {"coco_butd", "f30k_butd", "coco", "f30k", "synth"});
  opts.add("vocab_path", &vocab_path, "vocabulary file or a folder holding vocab.txt");
  opts.add("split", &split, "split to encode (test, testall, dev, train; raw images: test, val, train)");
  opts.add("out", &out, "output folder: img_emb.npy, txt_emb.npy, captions.txt, meta.json");
  DeviceFlags dflags;
  add_device_options(opts, &device, &dflags);
  opts.add("batch_size_eval", &batch_size_eval, "images/captions per encoding batch (captions are padded per batch)");
  opts.add("help", &help, "show the flags");
  auto rest = opts.parse_args(args);
  if (help) {
    std::printf("usage: dive encode --checkpoint CKPT --data_path DIR --vocab_path V --split S --out OUTDIR"
                " [--device cpu]\n"
                "Writes OUTDIR/img_emb.npy f32 [N, K, D], OUTDIR/txt_emb.npy f32 [5N, K, D], OUTDIR/captions.txt\n"
                "(line j = caption row j, image j / 5) and OUTDIR/meta.json, for 'dive search --index OUTDIR'.\n%s",
                opts.help().c_str());
    return 0;
  }
  DIVE_CHECK(rest.empty(), "encode: unexpected argument '", rest.empty() ? "" : rest[0], "'");
  DIVE_CHECK(!checkpoint.empty() && !data_path.empty() && !vocab_path.empty() && !out.empty(),
             "encode: --checkpoint, --data_path, --vocab_path and --out are required");
  DIVE_CHECK(batch_size_eval >= 1, "encode: --batch_size_eval must be >= 1, got ", batch_size_eval);
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
  DIVE_CHECK(cfg.vocab_size == vocab.size(), "encode: the checkpoint has a ", cfg.vocab_size,
             "-word vocabulary but ", vfile, " has ", vocab.size());
  DIVE_CHECK(!ds.precomp || cfg.img_dim == ds.precomp->feature_dim(), "encode: the checkpoint expects ", cfg.img_dim,
             "-dim region features but ", data_path, " has ", ds.precomp ? ds.precomp->feature_dim() : 0);
  std::printf("%s\n", ds.describe().c_str());
  auto t0 = std::chrono::steady_clock::now();
  Encoded e = encode_split(*m, ds, vocab, dev, batch_size_eval, true);
  EmbeddingIndex x;
  x.img = e.img;
  x.txt = e.txt;
  for (int64_t j = 0; j < ds.num_captions(); ++j) x.captions.push_back(ds.caption(j));
  IndexMeta& mt = x.meta;
  mt.checkpoint = checkpoint;
  mt.data_path = data_path;
  mt.vocab_path = vfile;
  mt.split = split;
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
