// dive search: query an embedding index (dive encode) with a caption (text -> images) or with one of
// its images (image -> captions), scored with the checkpoint's eval similarity.
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>

#include "lib/io/atomic_file.h"
#include "tools/dive/commands.h"
#include "tools/run/embedding_index.h"
#include "tools/run/inference.h"
#include "tools/run/search.h"
#include "tools/run/session.h"

namespace dive::tools {

namespace {

std::string clip(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n - 3) + "..."; }

// The ranked hits as a table: images for a text query (`text` set), captions for image `image_id`.
void print_hits(const EmbeddingIndex& x, const std::vector<Hit>& hits, const std::string* text, int64_t image_id,
                const std::string& similarity) {
  if (text) {
    std::printf("query: \"%s\" -> %lld images of %s (%s similarity)\n", text->c_str(), (long long)x.img.size(0),
                x.meta.split.c_str(), similarity.c_str());
    std::printf("%4s  %8s  %9s  %s\n", "rank", "image", "score", "first caption of the image");
    for (size_t r = 0; r < hits.size(); ++r)
      std::printf("%4zu  %8lld  %9.4f  %s\n", r + 1, (long long)hits[r].id, hits[r].score,
                  clip(x.captions[size_t(5 * hits[r].id)], 100).c_str());
    return;
  }
  std::printf("query: image %lld of %s -> %lld captions (%s similarity); its own captions: %lld..%lld\n",
              (long long)image_id, x.meta.split.c_str(), (long long)x.txt.size(0), similarity.c_str(),
              (long long)(5 * image_id), (long long)(5 * image_id + 4));
  std::printf("  first caption: %s\n", clip(x.captions[size_t(5 * image_id)], 100).c_str());
  std::printf("%4s  %8s  %8s  %5s  %9s  %s\n", "rank", "caption", "image", "match", "score", "caption");
  for (size_t r = 0; r < hits.size(); ++r)
    std::printf("%4zu  %8lld  %8lld  %5s  %9.4f  %s\n", r + 1, (long long)hits[r].id, (long long)(hits[r].id / 5),
                hits[r].id / 5 == image_id ? "yes" : "", hits[r].score, clip(x.captions[size_t(hits[r].id)], 100).c_str());
}

// The same as JSON, written atomically to `path`.
void write_hits_json(const std::string& path, const EmbeddingIndex& x, const std::vector<Hit>& hits,
                     const std::string* text, int64_t image_id, const std::string& similarity) {
  boost::json::array arr;
  for (size_t r = 0; r < hits.size(); ++r) {
    const int64_t img = text ? hits[r].id : hits[r].id / 5;
    boost::json::object o{{"rank", int64_t(r + 1)}, {"id", hits[r].id}, {"image", img}, {"score", hits[r].score}};
    o["caption"] = text ? x.captions[size_t(5 * img)] : x.captions[size_t(hits[r].id)];
    if (!text) o["match"] = img == image_id;
    arr.push_back(std::move(o));
  }
  boost::json::object doc{{"query", text ? *text : "image " + std::to_string(image_id)},
                          {"kind", text ? "text" : "image"}, {"similarity", similarity}, {"hits", arr}};
  io::write_file_atomic(path, boost::json::serialize(doc) + "\n", "search json");
}

}  // namespace

int cmd_search(const std::vector<std::string>& args) {
  model::ModelConfig cfg;
  model::OptionSet opts;
  model::add_model_options(opts, cfg);
  std::string index_dir, checkpoint, vocab_path, text, device = "cpu", json_out;
  int64_t image_id = -1, topk = 10;
  bool help = false;
  opts.add("index", &index_dir, "folder written by 'dive encode --out'");
  opts.add("checkpoint", &checkpoint, "the checkpoint that encoded the index (text tower, similarity options)");
  opts.add("vocab_path", &vocab_path, "vocabulary file or a folder holding vocab.txt");
  opts.add("text", &text, "text query: rank the index's images for this caption");
  opts.add("image_id", &image_id, "image query: rank the index's captions for image row I");
  opts.add("topk", &topk, "results to show");
  DeviceFlags dflags;
  add_device_options(opts, &device, &dflags);
  opts.add("json", &json_out, "also write the results as JSON to this file");
  opts.add("help", &help, "show the flags");
  auto rest = opts.parse_args(args);
  if (help) {
    std::printf(
        "usage: dive search --index OUTDIR --checkpoint CKPT --vocab_path V (--text \"a red circle\" | --image_id I)"
        " [--topk 10] [--device cpu]\n"
        "A text query is tokenized like the training captions and encoded alone, as a batch of one caption.\n"
        "The official text tower lets padding tokens into the set-prediction attention, so a caption's\n"
        "embedding depends on the padding of its batch; a single caption has no padding, so a query's\n"
        "embedding can differ slightly from the same caption's row in txt_emb.npy (encoded in padded batches).\n"
        "Scores use the checkpoint's --eval_similarity (smooth_chamfer, chamfer or max).\n%s",
        opts.help().c_str());
    return 0;
  }
  DIVE_CHECK(rest.empty(), "search: unexpected argument '", rest.empty() ? "" : rest[0], "'");
  DIVE_CHECK(!index_dir.empty() && !checkpoint.empty() && !vocab_path.empty(),
             "search: --index, --checkpoint and --vocab_path are required");
  bool text_query = false;  // --text given, even as "" or blanks (then it has no words: an error below)
  for (const std::string& a : args) text_query = text_query || a == "--text" || a.rfind("--text=", 0) == 0;
  DIVE_CHECK(text_query != (image_id >= 0), "search: give exactly one of --text \"...\" and --image_id I",
             image_id < -1 ? " (image ids are >= 0)" : "");
  DIVE_CHECK(topk >= 1, "search: --topk must be >= 1, got ", topk);
  Device dev = open_device(device, dflags);
  EmbeddingIndex x = load_index(index_dir);
  std::string vfile = vocab_file(vocab_path);
  data::Vocabulary vocab = data::Vocabulary::load(vfile);
  cfg.vocab_size = vocab.size();
  cfg.img_dim = x.meta.img_dim;
  auto m = load_model_for_inference(args, opts, cfg, checkpoint, dev);
  DIVE_CHECK(cfg.vocab_size == vocab.size(), "search: the checkpoint has a ", cfg.vocab_size,
             "-word vocabulary but ", vfile, " has ", vocab.size());
  DIVE_CHECK(x.img.size(1) == cfg.img_num_embeds && x.txt.size(1) == cfg.txt_num_embeds &&
                 x.img.size(2) == cfg.embed_size,
             "search: index '", index_dir, "' holds image embeddings K=", x.img.size(1), ", caption K=", x.txt.size(1),
             ", D=", x.img.size(2), " but checkpoint '", checkpoint, "' makes K=", cfg.img_num_embeds,
             " (img_num_embeds), K=", cfg.txt_num_embeds, " (txt_num_embeds), D=", cfg.embed_size,
             " (embed_size): encode the split again with this checkpoint");
  std::error_code ec;
  if (!std::filesystem::equivalent(x.meta.checkpoint, checkpoint, ec))
    std::fprintf(stderr, "note: the index was encoded with '%s', not '%s'\n", x.meta.checkpoint.c_str(),
                 checkpoint.c_str());
  std::vector<Hit> hits = text_query ? search_text(*m, x, vocab, text, topk, dev)
                                     : search_image(*m, x, index_dir, image_id, topk, dev);
  print_hits(x, hits, text_query ? &text : nullptr, image_id, cfg.eval_similarity);
  if (!json_out.empty()) write_hits_json(json_out, x, hits, text_query ? &text : nullptr, image_id, cfg.eval_similarity);
  return 0;
}

}  // namespace dive::tools
