#include "tools/run/session.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/glove.h"
#include "lib/io/safetensors.h"
#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#if DIVE_HAVE_CUDA
#include "lib/backend/cuda/device.h"
#endif

namespace dive::tools {

model::Batch to_model_batch(const data::Batch& b, Device dev) {
  // raw images (CNN branch) come without img_lengths
  return {b.images.to(dev), b.img_lengths.defined() ? b.img_lengths.to(dev) : Tensor(), b.captions.to(dev),
          b.cap_lengths.to(dev)};
}

Encoded encode_split(model::DiveModel& m, const SplitData& ds, const data::Vocabulary& vocab, Device dev,
                     int64_t batch, bool progress, int64_t workers) {
  m.eval();
  NoGradGuard ng;
  int64_t N = ds.num_images(), C = ds.num_captions();
  std::vector<Tensor> imgs, txts;
  Progress bar("encode", N + C);
  if (ds.images) {
    data::LoaderOptions lo;
    lo.batch_size = batch;
    lo.shuffle = false;
    lo.train = false;
    lo.workers = workers;
    lo.crop_size = m.cfg.crop_size;
    std::unique_ptr<data::Loader> loader = ds.loader(vocab, lo);
    data::Batch db;
    for (int64_t i = 0; loader->next(db); i += int64_t(db.image_ids.size())) {
      imgs.push_back(m.encode_images(db.images.to(dev), Tensor()).emb.to(kCPU));
      if (progress) bar.update(i + int64_t(db.image_ids.size()));
    }
  }
  for (int64_t i = 0; ds.precomp && i < N; i += batch) {
    int64_t n = std::min(batch, N - i);
    std::vector<Tensor> rows;
    for (int64_t k = 0; k < n; ++k) rows.push_back(ds.precomp->image(i + k));
    Tensor x = stack(rows, 0).to(dev);
    Tensor len = Tensor::full({n}, double(ds.precomp->regions()), DType::i64, dev);
    imgs.push_back(m.encode_images(x, len).emb.to(kCPU));
    if (progress) bar.update(i + n);
  }
  for (int64_t j = 0; j < C; j += batch) {
    int64_t n = std::min(batch, C - j);
    std::vector<std::vector<int64_t>> ids;
    int64_t T = 0;
    for (int64_t k = 0; k < n; ++k) {
      ids.push_back(vocab.encode(ds.caption(j + k)));
      T = std::max<int64_t>(T, int64_t(ids.back().size()));
    }
    std::vector<int64_t> flat(static_cast<size_t>(n * T), 0), lens;
    for (int64_t k = 0; k < n; ++k) {
      std::copy(ids[size_t(k)].begin(), ids[size_t(k)].end(), flat.begin() + k * T);
      lens.push_back(int64_t(ids[size_t(k)].size()));
    }
    Tensor caps = Tensor::from_vector(flat, {n, T}, dev), cl = Tensor::from_vector(lens, {n}, dev);
    txts.push_back(m.encode_captions(caps, cl).emb.to(kCPU));
    if (progress) bar.update(N + j + n);
  }
  if (progress) bar.finish();
  return {cat(imgs, 0), cat(txts, 0)};
}

std::vector<std::pair<std::string, model::RecallMetrics>> evaluate(const model::ModelConfig& c, const Encoded& e,
                                                                   Device dev) {
  Tensor s = model::similarity_matrix(e.img.to(dev), e.txt.to(dev), c.eval_similarity, c.temperature, c.denominator);
  std::vector<std::pair<std::string, model::RecallMetrics>> rows;
  int64_t N = s.size(0);
  if (N == 5000) rows.emplace_back("COCO 1K", model::recall_metrics_folds(s, 1000));
  rows.emplace_back(N == 5000 ? "COCO 5K" : std::to_string(N) + " images", model::recall_metrics(s));
  return rows;
}

std::string vocab_file(const std::string& p) {
  return std::filesystem::is_directory(p) ? (std::filesystem::path(p) / "vocab.txt").string() : p;
}

std::string format_duration(double s) {
  char buf[32];
  int64_t t = int64_t(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(t / 3600), (long long)(t / 60 % 60), (long long)(t % 60));
  else std::snprintf(buf, sizeof buf, "%02lld:%02lld", (long long)(t / 60), (long long)(t % 60));
  return buf;
}

Progress::Progress(std::string what, int64_t total)
    : what_(std::move(what)), total_(total), start_(std::chrono::steady_clock::now()), tty_(isatty(fileno(stderr))) {}

void Progress::update(int64_t done, const std::string& extra) {
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double frac = total_ > 0 ? double(done) / double(total_) : 1.0;
  double eta = frac > 0 ? el * (1 - frac) / frac : 0;
  const int width = 24;
  std::string bar(size_t(width * frac), '=');
  bar.resize(width, ' ');
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %s ETA %s %s%s", tty_ ? "\r" : "", what_.c_str(), bar.c_str(),
               (long long)done, (long long)total_, format_duration(el).c_str(), format_duration(eta).c_str(),
               extra.c_str(), tty_ ? "\033[K" : "\n");
  std::fflush(stderr);
}

void Progress::finish(const std::string& extra) {
  update(total_, extra);
  if (tty_) std::fprintf(stderr, "\n");
}

void init_word_embeddings(model::DiveModel& m, const data::Vocabulary& vocab, const std::string& wemb_type,
                          const std::string& wemb_path) {
  NoGradGuard ng;
  Tensor& w = m.txt_enc->embed->weight;  // [V, word_dim]
  const int64_t V = w.size(0), dim = w.size(1);
  DIVE_CHECK(vocab.size() == V, "word embeddings: the vocabulary has ", vocab.size(), " words but the model's table has ",
             V, " rows");
  if (wemb_type == "none") {
    w.copy_(Tensor::rand({V, dim}, -0.1, 0.1, DType::f32).to(w.dtype()).to(w.device()));
    std::printf("No wemb init. with pre-trained weight (uniform -0.1..0.1)\n");
    return;
  }
  DIVE_CHECK(wemb_type == "glove", "--wemb_type: unknown word embedding type '", wemb_type, "' (none or glove)");
  DIVE_CHECK(!wemb_path.empty(), "--wemb_type glove needs --wemb_path (a GloVe text file, e.g. glove.840B.300d.txt)");
  int64_t found = 0;
  Tensor vec = data::load_word_vectors(wemb_path, vocab, dim, found);  // [V, dim], NaN rows = missing
  Tensor host = w.to(kCPU).to(DType::f32).contiguous().clone();
  float* h = host.data<float>();
  const float* v = vec.data<float>();
  for (int64_t i = 0; i < V; ++i)
    if (!std::isnan(v[i * dim])) std::copy(v + i * dim, v + (i + 1) * dim, h + i * dim);
  w.copy_(host.to(w.dtype()).to(w.device()));
  std::printf("Words: %lld/%lld found in vocabulary; %lld words missing\n", (long long)found, (long long)V,
              (long long)(V - found));
}

void load_cnn_weights(model::DiveModel& m, const std::string& path) {
  const std::string prefix = "img_enc.cnn.";
  if (path.empty() || !std::filesystem::exists(path)) {
    std::fprintf(stderr, "warning: %s: the CNN starts from random weights (the official code starts from ImageNet "
                 "weights: convert them with tools/convert/convert_torchvision.py and pass --cnn_weights)\n",
                 path.empty() ? "no --cnn_weights" : ("--cnn_weights " + path + " does not exist").c_str());
    return;
  }
  io::SafetensorsFile f = io::load_safetensors(path);
  NoGradGuard ng;
  int64_t loaded = 0;
  for (auto& [name, t] : m.state_dict()) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string bare = name.substr(prefix.size());
    auto it = f.tensors.find(name);
    if (it == f.tensors.end()) it = f.tensors.find(bare);
    DIVE_CHECK(it != f.tensors.end(), "--cnn_weights ", path, ": no tensor '", name, "' (or '", bare,
               "'); is it a ", m.cfg.cnn_type, " state_dict converted with tools/convert/convert_torchvision.py?");
    DIVE_CHECK(it->second.shape() == t.shape(), "--cnn_weights ", path, ": '", it->first, "' has shape ",
               shape_str(it->second.shape()), ", the ", m.cfg.cnn_type, " of this model expects ", shape_str(t.shape()));
    Tensor dst = t;
    dst.copy_(it->second.to(t.dtype()));
    ++loaded;
  }
  std::printf("CNN weights: %lld tensors from %s\n", (long long)loaded, path.c_str());
}

void add_device_options(model::OptionSet& s, std::string* device, DeviceFlags* flags) {
  s.add("device", device, "ref, cpu, cuda or cuda:N");
  s.add("allow_tf32", &flags->allow_tf32, "GPU: TF32 tensor-core math for f32 matrix products and convolutions");
  s.add("nondeterministic", &flags->nondeterministic, "GPU: allow atomics and any cuDNN algorithm (faster, not bit-reproducible)");
}

Device open_device(const std::string& device, const DeviceFlags& flags) {
  Device d = Device::parse(device);
  if (d.kind == DeviceKind::cuda) {
    DIVE_CHECK(backend_available(DeviceKind::cuda), "--device ", device,
               ": no CUDA device is available (this build ", DIVE_HAVE_CUDA ? "has the CUDA backend, but no GPU or driver was found)"
                                                                          : "was configured without CUDA)");
#if DIVE_HAVE_CUDA
    DIVE_CHECK(d.index >= 0 && d.index < cuda::device_count(), "--device ", device, ": only ", cuda::device_count(),
               " CUDA device(s) present (cuda:0 .. cuda:", cuda::device_count() - 1, ")");
    cuda::set_allow_tf32(flags.allow_tf32);
    cuda::set_deterministic(!flags.nondeterministic);
#endif
  }
  (void)flags;
  return d;
}

}  // namespace dive::tools
