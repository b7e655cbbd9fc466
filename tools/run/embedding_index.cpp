// Embedding index folder (tools/embedding_index.h).
#include "tools/run/embedding_index.h"

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/core/error.h"
#include "lib/io/atomic_file.h"
#include "lib/io/npy.h"

namespace dive::tools {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

void check_shapes(const EmbeddingIndex& x, const std::string& where) {
  const IndexMeta& m = x.meta;
  DIVE_CHECK(x.img.dim() == 3 && x.txt.dim() == 3, where, ": embeddings must be [rows, K, D], got image ",
             x.img.str(), " and caption ", x.txt.str());
  DIVE_CHECK(x.txt.size(0) == 5 * x.img.size(0), where, ": ", x.txt.size(0), " caption rows for ", x.img.size(0),
             " images (expected 5 per image)");
  DIVE_CHECK(x.img.size(2) == x.txt.size(2), where, ": image D ", x.img.size(2), " != caption D ", x.txt.size(2));
  DIVE_CHECK(int64_t(x.captions.size()) == x.txt.size(0), where, ": ", x.captions.size(), " captions for ",
             x.txt.size(0), " caption embeddings");
  DIVE_CHECK(m.num_images == x.img.size(0) && m.num_captions == x.txt.size(0) && m.img_num_embeds == x.img.size(1) &&
                 m.txt_num_embeds == x.txt.size(1) && m.embed_size == x.img.size(2),
             where, ": meta.json says ", m.num_images, " images x ", m.img_num_embeds, " x ", m.embed_size, ", ",
             m.num_captions, " captions x ", m.txt_num_embeds, " but the arrays are image ", x.img.str(),
             ", caption ", x.txt.str());
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  DIVE_CHECK(f.good(), "index: cannot open '", path, "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

void save_index(const std::string& dir, const EmbeddingIndex& x) {
  check_shapes(x, "index '" + dir + "'");
  fs::create_directories(dir);
  io::save_npy(dir + "/img_emb.npy", x.img.to(kCPU).to(DType::f32));
  io::save_npy(dir + "/txt_emb.npy", x.txt.to(kCPU).to(DType::f32));
  std::string caps;
  for (const std::string& c : x.captions) {
    DIVE_CHECK(c.find('\n') == std::string::npos, "index: caption with a line break: '", c, "'");
    caps += c + '\n';
  }
  io::write_file_atomic(dir + "/captions.txt", caps, "index captions");
  const IndexMeta& m = x.meta;
  json::object o{{"checkpoint", m.checkpoint},         {"data_path", m.data_path},
                 {"vocab_path", m.vocab_path},         {"split", m.split},
                 {"num_images", m.num_images},         {"num_captions", m.num_captions},
                 {"img_num_embeds", m.img_num_embeds}, {"txt_num_embeds", m.txt_num_embeds},
                 {"embed_size", m.embed_size},         {"img_dim", m.img_dim},
                 {"vocab_size", m.vocab_size},         {"eval_similarity", m.eval_similarity},
                 {"temperature", m.temperature},       {"denominator", m.denominator}};
  io::write_file_atomic(dir + "/meta.json", json::serialize(o) + "\n", "index meta");
}

EmbeddingIndex load_index(const std::string& dir) {
  for (const char* f : {"meta.json", "img_emb.npy", "txt_emb.npy", "captions.txt"})
    DIVE_CHECK(fs::is_regular_file(dir + "/" + f), "index '", dir, "': missing ", f,
               " (write the index with: dive encode --checkpoint CKPT --data_path DIR --vocab_path V --split S --out ",
               dir, ")");
  EmbeddingIndex x;
  const std::string mpath = dir + "/meta.json";
  boost::system::error_code ec;
  json::value v = json::parse(read_text(mpath), ec);
  DIVE_CHECK(!ec && v.is_object(), "index '", mpath, "': not a JSON object", ec ? " (" + ec.message() + ")" : "");
  const json::object& o = v.as_object();
  auto str = [&](const char* k) {
    const json::value* f = o.if_contains(k);
    DIVE_CHECK(f && f->is_string(), "index '", mpath, "': missing or non-string field '", k, "'");
    return std::string(f->as_string());
  };
  auto num = [&](const char* k) {
    const json::value* f = o.if_contains(k);
    DIVE_CHECK(f && f->is_number(), "index '", mpath, "': missing or non-numeric field '", k, "'");
    return f->to_number<double>();
  };
  IndexMeta& m = x.meta;
  m.checkpoint = str("checkpoint");
  m.data_path = str("data_path");
  m.vocab_path = str("vocab_path");
  m.split = str("split");
  m.eval_similarity = str("eval_similarity");
  m.num_images = int64_t(num("num_images"));
  m.num_captions = int64_t(num("num_captions"));
  m.img_num_embeds = int64_t(num("img_num_embeds"));
  m.txt_num_embeds = int64_t(num("txt_num_embeds"));
  m.embed_size = int64_t(num("embed_size"));
  m.img_dim = int64_t(num("img_dim"));
  m.vocab_size = int64_t(num("vocab_size"));
  m.temperature = num("temperature");
  m.denominator = num("denominator");
  x.img = io::load_npy(dir + "/img_emb.npy");
  x.txt = io::load_npy(dir + "/txt_emb.npy");
  DIVE_CHECK(x.img.dtype() == DType::f32 && x.txt.dtype() == DType::f32, "index '", dir,
             "': img_emb.npy and txt_emb.npy must be f32");
  std::istringstream caps(read_text(dir + "/captions.txt"));
  for (std::string l; std::getline(caps, l);) x.captions.push_back(l);
  check_shapes(x, "index '" + dir + "'");
  return x;
}

}  // namespace dive::tools
