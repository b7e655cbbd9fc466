// Loader: worker threads claim batch numbers in order, build them (read regions out of the mapping or
// decode and transform raw images, augment, tokenize, collate) and park them in slots; next() hands them out in batch order. A worker
// does not start batch b until b < delivered + capacity, which bounds the batches held in memory.
// Everything random comes from sample_rng(seed, epoch, image), so batches are identical for any
// number of workers. start_epoch() and the destructor cancel and join the workers of the running
// epoch, so a consumer may stop at any time.
#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "data/dataset.h"
#include "lib/core/error.h"

namespace dive::data {

namespace {

struct Slot {
  Batch batch;
  std::exception_ptr error;
};

}  // namespace

struct Loader::Impl {
  PrecompDataset ds;
  std::optional<ImageDataset> raw;  // set: raw images (CNN branch) instead of ds
  Vocabulary vocab;
  LoaderOptions opt;
  int64_t num_images = 0;

  // Current epoch.
  int64_t epoch = -1;
  std::vector<int64_t> order;
  int64_t num_batches = 0;
  int64_t claimed = 0;    // next batch number a worker takes
  int64_t delivered = 0;  // next batch number next() returns
  std::map<int64_t, Slot> ready;
  bool stop = false;
  std::mutex mu;
  std::condition_variable cv_worker, cv_consumer;
  std::vector<std::thread> threads;

  int64_t capacity() const { return std::max<int64_t>(2, 2 * opt.workers); }

  Batch build(int64_t b) const;
  // The image part of batch `out` (image_ids set); draws each image's augmentation from rngs[k].
  void collate_regions(Batch& out, std::vector<std::mt19937_64>& rngs) const;
  void collate_raw(Batch& out, std::vector<std::mt19937_64>& rngs) const;
  void worker();
  void stop_workers();
};

void Loader::Impl::collate_regions(Batch& out, std::vector<std::mt19937_64>& rngs) const {
  const int64_t count = int64_t(out.image_ids.size()), R = ds.regions(), D = ds.feature_dim();
  std::vector<std::vector<int64_t>> keep(static_cast<size_t>(count));
  int64_t max_regions = 0;
  for (int64_t k = 0; k < count; ++k) {
    std::vector<int64_t>& kr = keep[size_t(k)];
    if (opt.train && opt.butd_drop_prob > 0) {
      kr = drop_regions(R, opt.butd_drop_prob, rngs[size_t(k)]);
    } else {
      kr.resize(size_t(R));
      for (int64_t r = 0; r < R; ++r) kr[size_t(r)] = r;
    }
    max_regions = std::max<int64_t>(max_regions, int64_t(kr.size()));
  }
  out.images = Tensor::zeros({count, max_regions, D}, DType::f32, kCPU);
  out.img_lengths = Tensor::empty({count}, DType::i64, kCPU);
  float* im = out.images.data<float>();
  int64_t* il = out.img_lengths.data<int64_t>();
  for (int64_t k = 0; k < count; ++k) {
    const float* src = ds.image_data(out.image_ids[size_t(k)]);
    const std::vector<int64_t>& kr = keep[size_t(k)];
    float* dst = im + k * max_regions * D;
    for (size_t r = 0; r < kr.size(); ++r)
      std::memcpy(dst + int64_t(r) * D, src + kr[r] * D, size_t(D) * sizeof(float));
    il[k] = int64_t(kr.size());
  }
}

void Loader::Impl::collate_raw(Batch& out, std::vector<std::mt19937_64>& rngs) const {
  const int64_t count = int64_t(out.image_ids.size()), S = opt.crop_size, plane = 3 * S * S;
  out.images = Tensor::empty({count, 3, S, S}, DType::f32, kCPU);
  float* dst = out.images.data<float>();
  for (int64_t k = 0; k < count; ++k) {
    Tensor x = raw->load(out.image_ids[size_t(k)], S, opt.train ? &rngs[size_t(k)] : nullptr).contiguous();
    std::memcpy(dst + k * plane, x.data<float>(), size_t(plane) * sizeof(float));
  }
}

Batch Loader::Impl::build(int64_t b) const {
  int64_t first = b * opt.batch_size;
  int64_t count = std::min(opt.batch_size, num_images - first);
  Batch out;
  out.image_ids.assign(order.begin() + first, order.begin() + first + count);
  // one generator per image, used by the image augmentation first, then by its captions'
  std::vector<std::mt19937_64> rngs;
  for (int64_t img : out.image_ids) rngs.push_back(sample_rng(opt.seed, epoch, img));
  if (raw) collate_raw(out, rngs);
  else collate_regions(out, rngs);
  std::vector<std::vector<int64_t>> caps(static_cast<size_t>(5 * count));
  size_t max_len = 0;
  for (int64_t k = 0; k < count; ++k) {
    const int64_t img = out.image_ids[size_t(k)];
    for (int64_t c = 0; c < 5; ++c) {
      std::vector<int64_t> ids = vocab.encode(raw ? raw->caption(5 * img + c) : ds.caption(5 * img + c));
      if (opt.train && opt.caption_drop_prob > 0)
        ids = augment_caption(ids, opt.caption_drop_prob, vocab.size(), vocab.mask_id(), rngs[size_t(k)]);
      max_len = std::max(max_len, ids.size());
      caps[size_t(5 * k + c)] = std::move(ids);
    }
  }
  out.captions = Tensor::zeros({5 * count, int64_t(max_len)}, DType::i64, kCPU);
  out.cap_lengths = Tensor::empty({5 * count}, DType::i64, kCPU);
  int64_t* cp = out.captions.data<int64_t>();
  int64_t* cl = out.cap_lengths.data<int64_t>();
  for (size_t j = 0; j < caps.size(); ++j) {
    std::copy(caps[j].begin(), caps[j].end(), cp + j * max_len);
    cl[j] = int64_t(caps[j].size());
  }
  return out;
}

void Loader::Impl::worker() {
  std::unique_lock<std::mutex> lock(mu);
  while (true) {
    cv_worker.wait(lock, [&] { return stop || claimed >= num_batches || claimed < delivered + capacity(); });
    if (stop || claimed >= num_batches) return;
    int64_t b = claimed++;
    lock.unlock();
    Slot slot;
    try {
      slot.batch = build(b);
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
    ready[b] = std::move(slot);
    cv_consumer.notify_all();
  }
}

void Loader::Impl::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  cv_worker.notify_all();
  for (std::thread& t : threads) t.join();
  threads.clear();
  ready.clear();
  stop = false;
}

namespace {

void check_options(const LoaderOptions& opt) {
  DIVE_CHECK(opt.batch_size > 0, "Loader: batch_size must be positive, got ", opt.batch_size);
  DIVE_CHECK(opt.workers >= 0, "Loader: workers must be >= 0, got ", opt.workers);
  DIVE_CHECK(opt.caption_drop_prob >= 0 && opt.caption_drop_prob <= 1 && opt.butd_drop_prob >= 0 &&
                 opt.butd_drop_prob < 1,
             "Loader: drop probabilities must lie in [0, 1), got caption ", opt.caption_drop_prob, ", butd ",
             opt.butd_drop_prob);
}

int64_t used_images(const LoaderOptions& opt, int64_t n) { return opt.max_images >= 0 ? std::min(opt.max_images, n) : n; }

}  // namespace

Loader::Loader(const PrecompDataset& ds, const Vocabulary& vocab, LoaderOptions opt)
    : impl_(std::make_unique<Impl>()) {
  check_options(opt);
  impl_->ds = ds;
  impl_->vocab = vocab;
  impl_->opt = opt;
  impl_->num_images = used_images(opt, ds.num_images());
}

Loader::Loader(const ImageDataset& ds, const Vocabulary& vocab, LoaderOptions opt) : impl_(std::make_unique<Impl>()) {
  check_options(opt);
  DIVE_CHECK(opt.crop_size > 0, "Loader: crop_size must be positive, got ", opt.crop_size);
  impl_->raw = ds;
  impl_->vocab = vocab;
  impl_->opt = opt;
  impl_->num_images = used_images(opt, ds.num_images());
}

Loader::~Loader() { impl_->stop_workers(); }

int64_t Loader::batches_per_epoch() const {
  int64_t n = impl_->num_images, b = impl_->opt.batch_size;
  return impl_->opt.drop_last ? n / b : (n + b - 1) / b;
}

void Loader::start_epoch(int64_t epoch) {
  Impl& m = *impl_;
  m.stop_workers();
  m.epoch = epoch;
  m.order.resize(size_t(m.num_images));
  for (int64_t i = 0; i < m.num_images; ++i) m.order[size_t(i)] = i;
  if (m.opt.shuffle) {  // Fisher-Yates with our own generator (portable across standard libraries)
    std::mt19937_64 rng = sample_rng(m.opt.seed, epoch, -1);
    for (int64_t i = m.num_images - 1; i > 0; --i) std::swap(m.order[size_t(i)], m.order[size_t(uniform_int(rng, i + 1))]);
  }
  m.num_batches = batches_per_epoch();
  m.claimed = 0;
  m.delivered = 0;
  for (int64_t w = 0; w < m.opt.workers; ++w) m.threads.emplace_back([&m] { m.worker(); });
}

bool Loader::next(Batch& out) {
  Impl& m = *impl_;
  if (m.epoch < 0) start_epoch(0);
  if (m.delivered >= m.num_batches) return false;
  if (m.opt.workers == 0) {
    out = m.build(m.delivered++);
    return true;
  }
  std::unique_lock<std::mutex> lock(m.mu);
  m.cv_consumer.wait(lock, [&] { return m.ready.count(m.delivered) > 0; });
  auto it = m.ready.find(m.delivered);
  Slot slot = std::move(it->second);
  m.ready.erase(it);
  ++m.delivered;
  lock.unlock();
  m.cv_worker.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  out = std::move(slot.batch);
  return true;
}

}  // namespace dive::data
