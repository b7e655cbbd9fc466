// BUTD "precomp" split (SCAN layout): {split}_ims.npy f32 [rows, R, D], memory-mapped, and
// {split}_caps.txt with one caption per line. Captions = 5 x rows: image i owns captions 5i..5i+4
// (train). Captions = rows: every image row is stored 5 times, once per caption (dev/test/testall);
// image i is row 5i. Any other count is an error naming both files.
#include <fstream>
#include <sstream>

#include "data/dataset.h"
#include "lib/core/error.h"
#include "lib/io/npy.h"

namespace dive::data {

struct PrecompDataset::Impl {
  std::string data_path, split, ims_path, caps_path;
  io::NpyMap ims;
  std::vector<std::string> captions;
  int64_t num_images = 0, row_step = 1, regions = 0, dim = 0;
};

namespace {

bool is_py_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F); }

// Lines with Python's str.strip() applied; an empty (or all-whitespace) line is an error.
std::vector<std::string> read_captions(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  DIVE_CHECK(f.good(), "precomp: cannot open captions file '", path, "'");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  std::vector<std::string> out;
  size_t start = 0;
  int64_t line = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    ++line;
    size_t b = start, e = nl;
    while (b < e && is_py_space(text[b])) ++b;
    while (e > b && is_py_space(text[e - 1])) --e;
    DIVE_CHECK(e > b, "precomp: '", path, "' line ", line, ": empty caption");
    out.emplace_back(text, b, e - b);
    start = nl + 1;
  }
  return out;
}

}  // namespace

PrecompDataset PrecompDataset::open(const std::string& data_path, const std::string& split) {
  auto impl = std::make_shared<Impl>();
  impl->data_path = data_path;
  impl->split = split;
  std::string base = data_path.empty() || data_path.back() == '/' ? data_path : data_path + "/";
  impl->ims_path = base + split + "_ims.npy";
  impl->caps_path = base + split + "_caps.txt";
  impl->ims = io::NpyMap::open(impl->ims_path);
  const Shape& sh = impl->ims.shape();
  DIVE_CHECK(impl->ims.dtype() == DType::f32 && sh.size() == 3, "precomp: '", impl->ims_path,
             "' must hold f32 [images, regions, dim], found ", dtype_name(impl->ims.dtype()), shape_str(sh));
  DIVE_CHECK(sh[1] > 0 && sh[2] > 0, "precomp: '", impl->ims_path, "' has no regions/features: ", shape_str(sh));
  impl->captions = read_captions(impl->caps_path);
  int64_t rows = sh[0], caps = int64_t(impl->captions.size());
  DIVE_CHECK(rows > 0 && caps > 0, "precomp: split '", split, "' is empty: '", impl->ims_path, "' has ", rows,
             " images, '", impl->caps_path, "' has ", caps, " captions");
  if (caps == 5 * rows) {
    impl->num_images = rows;
    impl->row_step = 1;
  } else if (caps == rows && rows % 5 == 0) {
    impl->num_images = rows / 5;
    impl->row_step = 5;
  } else {
    DIVE_FAIL("precomp: '", impl->caps_path, "' has ", caps, " captions and '", impl->ims_path, "' has ", rows,
              " image rows; expected captions = 5 x rows (one row per image) or captions = rows"
              " (a multiple of 5: each image stored once per caption)");
  }
  impl->regions = sh[1];
  impl->dim = sh[2];
  PrecompDataset ds;
  ds.impl_ = std::move(impl);
  return ds;
}

int64_t PrecompDataset::num_images() const { return impl_->num_images; }
int64_t PrecompDataset::num_captions() const { return 5 * impl_->num_images; }
int64_t PrecompDataset::regions() const { return impl_->regions; }
int64_t PrecompDataset::feature_dim() const { return impl_->dim; }

const float* PrecompDataset::image_data(int64_t i) const {
  DIVE_CHECK(i >= 0 && i < impl_->num_images, "precomp ", impl_->split, ": image ", i, " out of range [0, ",
             impl_->num_images, ")");
  return static_cast<const float*>(impl_->ims.row(i * impl_->row_step));
}

Tensor PrecompDataset::image(int64_t i) const {
  return Tensor::from_raw(image_data(i), {impl_->regions, impl_->dim}, DType::f32, kCPU);
}

const std::string& PrecompDataset::caption(int64_t j) const {
  DIVE_CHECK(j >= 0 && j < num_captions(), "precomp ", impl_->split, ": caption ", j, " out of range [0, ",
             num_captions(), ")");
  return impl_->captions[size_t(j)];
}

std::string PrecompDataset::describe() const {
  std::ostringstream os;
  os << impl_->data_path << " " << impl_->split << ": " << impl_->num_images << " images x " << impl_->regions
     << " x " << impl_->dim << ", " << num_captions() << " captions"
     << (impl_->row_step == 5 ? " (image rows stored 5x)" : "");
  return os.str();
}

std::string split_name(const std::string& data_name, const std::string& role) {
  bool coco = data_name == "coco_butd", other = data_name == "f30k_butd" || data_name == "synth";
  DIVE_CHECK(coco || other, "split_name: unknown data_name '", data_name, "' (expected coco_butd, f30k_butd or synth)");
  if (role == "train") return "train";
  if (role == "val") return "dev";
  if (role == "test") return coco ? "testall" : "test";
  DIVE_FAIL("split_name: unknown role '", role, "' (expected train, val or test)");
}

}  // namespace dive::data
