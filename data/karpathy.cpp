// Karpathy-split JSON reader and stb_image decoding (data/karpathy.h).
#include "data/karpathy.h"

#include <stb_image.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/core/error.h"

namespace dive::data {

namespace json = boost::json;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  DIVE_CHECK(f.good(), "karpathy json '", path, "': cannot open file");
  std::stringstream ss;
  ss << f.rdbuf();
  DIVE_CHECK(!f.bad(), "karpathy json '", path, "': read error");
  return ss.str();
}

// Parses `text`; a syntax error names the file, the line and the column.
json::value parse_json(const std::string& text, const std::string& path) {
  json::stream_parser p;
  boost::system::error_code ec;
  size_t used = p.write_some(text.data(), text.size(), ec);
  if (!ec && used == text.size()) p.finish(ec);
  if (ec) {
    size_t at = std::min(used, text.size());
    size_t line = 1 + size_t(std::count(text.begin(), text.begin() + std::ptrdiff_t(at), '\n'));
    size_t nl = text.rfind('\n', at == 0 ? 0 : at - 1);
    size_t col = at - (nl == std::string::npos || at == 0 ? 0 : nl + 1) + 1;
    throw Error("karpathy json '" + path + "' line " + std::to_string(line) + ", column " + std::to_string(col) +
                ": not valid JSON (" + ec.message() + ")");
  }
  DIVE_CHECK(p.done(), "karpathy json '", path, "': incomplete JSON");
  return p.release();
}

const json::value* field(const json::object& o, const char* name) {
  auto it = o.find(name);
  return it == o.end() ? nullptr : &it->value();
}

std::string where(const std::string& path, size_t i, const std::string& name) {
  return "karpathy json '" + path + "' images[" + std::to_string(i) + "]" + (name.empty() ? "" : " (" + name + ")");
}

std::string string_field(const json::object& o, const char* name, const std::string& at, bool required) {
  const json::value* v = field(o, name);
  if (!v) {
    DIVE_CHECK(!required, at, ": missing field '", name, "'");
    return "";
  }
  DIVE_CHECK(v->is_string(), at, ": field '", name, "' must be a string, found ", json::serialize(*v));
  return std::string(v->as_string());
}

bool wanted(const std::string& split, const std::string& img_split) {
  if (split == "all") return true;
  if (split == "train") return img_split == "train" || img_split == "restval";
  if (split == "val" || split == "dev") return img_split == "val";
  return img_split == split;  // test, restval
}

}  // namespace

KarpathySplit load_karpathy(const std::string& json_path, const std::string& image_root, const std::string& split) {
  DIVE_CHECK(split == "train" || split == "val" || split == "dev" || split == "test" || split == "restval" ||
                 split == "all",
             "karpathy json: unknown split '", split, "' (train = train+restval, val, test, restval or all)");
  const json::value doc = parse_json(read_text(json_path), json_path);
  DIVE_CHECK(doc.is_object(), "karpathy json '", json_path, "': the top level must be an object with 'images'");
  const json::value* images = field(doc.as_object(), "images");
  DIVE_CHECK(images, "karpathy json '", json_path, "': missing field 'images'");
  DIVE_CHECK(images->is_array(), "karpathy json '", json_path, "': field 'images' must be an array");
  KarpathySplit out;
  out.json_path = json_path;
  out.split = split;
  const std::filesystem::path root(image_root);
  const json::array& arr = images->as_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    DIVE_CHECK(arr[i].is_object(), where(json_path, i, ""), ": must be an object");
    const json::object& o = arr[i].as_object();
    std::string at = where(json_path, i, "");
    KarpathyImage img;
    img.filename = string_field(o, "filename", at, true);
    at = where(json_path, i, img.filename);
    img.split = string_field(o, "split", at, true);
    if (!wanted(split, img.split)) continue;
    const std::string filepath = string_field(o, "filepath", at, false);
    img.path = (filepath.empty() ? root / img.filename : root / filepath / img.filename).string();
    img.index = int64_t(i);
    const json::value* sents = field(o, "sentences");
    DIVE_CHECK(sents, at, ": missing field 'sentences'");
    DIVE_CHECK(sents->is_array(), at, ": field 'sentences' must be an array");
    const json::array& sa = sents->as_array();
    DIVE_CHECK(sa.size() >= 5, at, ": ", sa.size(), " sentences, every image needs at least 5");
    for (size_t s = 0; s < 5; ++s) {
      const std::string sat = at + " sentences[" + std::to_string(s) + "]";
      DIVE_CHECK(sa[s].is_object(), sat, ": must be an object");
      const json::object& so = sa[s].as_object();
      img.captions.push_back(string_field(so, "raw", sat, true));
      std::vector<std::string> toks;
      if (const json::value* t = field(so, "tokens")) {
        DIVE_CHECK(t->is_array(), sat, ": field 'tokens' must be an array of strings");
        for (const json::value& w : t->as_array()) {
          DIVE_CHECK(w.is_string(), sat, ": field 'tokens' must be an array of strings, found ", json::serialize(w));
          toks.emplace_back(w.as_string());
        }
      }
      img.tokens.push_back(std::move(toks));
    }
    out.images.push_back(std::move(img));
  }
  return out;
}

Tensor load_rgb(const std::string& path) {
  std::error_code ec;
  DIVE_CHECK(std::filesystem::is_regular_file(path, ec), "image '", path, "': no such file");
  int w = 0, h = 0, c = 0;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &c, 3);  // forces 3 channels: gray -> RGB, RGBA -> RGB
  DIVE_CHECK(px != nullptr, "image '", path, "': cannot decode (", stbi_failure_reason() ? stbi_failure_reason() : "?",
             ")");
  Tensor t;
  try {
    t = Tensor::from_raw(px, {int64_t(h), int64_t(w), 3}, DType::u8);
  } catch (...) {
    stbi_image_free(px);
    throw;
  }
  stbi_image_free(px);
  return t;
}

}  // namespace dive::data
