// dive train: the official training recipe (train.py + train_eval_coco.sh) on BUTD precomp data, or on
// raw images with the CNN branch (--cnn_type resnet*).
#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#include "lib/optim/optimizer.h"
#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/session.h"
#include "tools/train.h"

namespace dive::tools {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }

}  // namespace

void add_train_options(model::OptionSet& s, TrainOptions& o) {
  s.add("data_name", &o.data_name,
        "dataset: coco_butd, f30k_butd (region features), coco, f30k (raw images, --cnn_type resnet*) or synth "
        "(dive synth: either)",
        {"coco_butd", "f30k_butd", "coco", "f30k", "synth"});
  s.add("data_path", &o.data_path,
        "region features: the folder with {split}_ims.npy and {split}_caps.txt; raw images: the folder with "
        "dataset_{coco,flickr30k,synth}.json");
  s.add("vocab_path", &o.vocab_path, "vocabulary file (one token per line) or a folder holding vocab.txt");
  s.add("logger_name", &o.logger_name, "run folder: checkpoints and log.jsonl");
  s.add("resume", &o.resume, "checkpoint to continue from");
  add_device_options(s, &o.device, &o.device_flags);
  s.add("optimizer", &o.optimizer, "adamw or adam", {"adamw", "adam"});
  s.add("lr_scheduler", &o.lr_scheduler, "cosine (per iteration) or step (per epoch)", {"cosine", "step"});
  s.add("batch_size", &o.batch_size, "images per batch (each with its 5 captions)");
  s.add("num_epochs", &o.num_epochs, "epochs");
  s.add("workers", &o.workers, "data loader threads");
  s.add("log_step", &o.log_step, "steps between log lines");
  s.add("eval_epoch", &o.eval_epoch, "epochs between validations");
  s.add("lr_step_size", &o.lr_step_size, "epochs per step of the step schedule");
  s.add("lr_step_gamma", &o.lr_step_gamma, "factor of the step schedule");
  s.add("seed", &o.seed, "random seed (model init, shuffling, augmentation, dropout)");
  s.add("max_steps", &o.max_steps, "stop after this many steps in total (-1: no limit)");
  s.add("lr", &o.lr, "base learning rate");
  s.add("weight_decay", &o.weight_decay, "decoupled weight decay on every parameter");
  s.add("grad_clip", &o.grad_clip, "clip the global gradient norm (<= 0: off)");
  s.add("img_pie_lr_scale", &o.img_pie_lr_scale, "lr scale of the image encoder");
  s.add("txt_pie_lr_scale", &o.txt_pie_lr_scale, "lr scale of the text set module");
  s.add("txt_lr_scale", &o.txt_lr_scale, "lr scale of the text embedding and GRU");
  s.add("caption_drop_prob", &o.caption_drop_prob, "caption token mask/replace/delete probability");
  s.add("butd_drop_prob", &o.butd_drop_prob, "region drop probability");
  s.add("drop_last", &o.drop_last, "drop the last partial batch");
  s.add("tri_mean_to_max", &o.tri_mean_to_max, "mean over negatives before --warm_epoch, hardest negative after");
  s.add("warm_epoch", &o.warm_epoch, "epoch at which --tri_mean_to_max switches to the hardest negative");
  s.add("wemb_type", &o.wemb_type, "word embedding init: none (uniform) or glove", {"none", "glove"});
  s.add("wemb_path", &o.wemb_path, "GloVe text file for --wemb_type glove");
  s.add("cnn_weights", &o.cnn_weights,
        "CNN branch: ImageNet weights to start from (safetensors written by tools/convert_torchvision.py)");
  s.add("help", &o.help, "show the flags");
}

namespace {

std::string vocab_file(const std::string& p) {
  return std::filesystem::is_directory(p) ? (std::filesystem::path(p) / "vocab.txt").string() : p;
}

bool finite(double x) { return std::isfinite(x); }

}  // namespace

int cmd_train(const std::vector<std::string>& args) {
  model::ModelConfig cfg;
  TrainOptions o;
  model::OptionSet opts;
  model::add_model_options(opts, cfg);
  add_train_options(opts, o);
  // a resumed run starts from the options it was trained with; flags given now still win
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--resume") opts.load_ini_text(checkpoint_options(args[i + 1]), args[i + 1] + " (stored options)", true);
  auto rest = opts.parse_args(args);
  if (o.help) {
    std::printf("usage: dive train --data_path DIR --vocab_path FILE [flags]\n%s", opts.help().c_str());
    return 0;
  }
  DIVE_CHECK(rest.empty(), "train: unexpected argument '", rest.empty() ? "" : rest[0], "'");
  DIVE_CHECK(!o.data_path.empty(), "train: --data_path is required");
  DIVE_CHECK(!o.vocab_path.empty(), "train: --vocab_path is required");
  DIVE_CHECK(o.batch_size >= 2, "train: --batch_size must be >= 2 (the loss needs negatives), got ", o.batch_size);
  TrainResult r = run_training(cfg, o, opts.dump());
  if (r.interrupted) return 130;
  return r.diverged ? 1 : 0;
}

TrainResult run_training(model::ModelConfig cfg, const TrainOptions& o, const std::string& options_dump) {
  TrainResult result;
  Device dev = open_device(o.device, o.device_flags);

  data::Vocabulary vocab = data::Vocabulary::load(vocab_file(o.vocab_path));
  SplitData train_ds = open_split(cfg, o.data_name, o.data_path, role_split(cfg, o.data_name, "train"));
  SplitData val_ds = open_split(cfg, o.data_name, o.data_path, role_split(cfg, o.data_name, "val"));
  cfg.vocab_size = vocab.size();
  if (train_ds.precomp) cfg.img_dim = train_ds.precomp->feature_dim();
  std::printf("train: %s\nval:   %s\nvocabulary: %lld words\n", train_ds.describe().c_str(), val_ds.describe().c_str(),
              (long long)vocab.size());

  manual_seed(uint64_t(o.seed));
  model::DiveModel m(cfg);
  // official EncoderText.init_weights: U(-0.1, 0.1), or GloVe vectors where the vocabulary has them
  if (o.resume.empty()) init_word_embeddings(m, vocab, o.wemb_type, o.wemb_path);
  if (o.resume.empty() && cfg.cnn_type != "none") load_cnn_weights(m, o.cnn_weights);
  m.to(dev);
  std::printf("model: %lld parameters, K = %lld/%lld, device %s\n", (long long)m.num_parameters(),
              (long long)cfg.img_num_embeds, (long long)cfg.txt_num_embeds, dev.str().c_str());

  // the official parameter groups (train.py): the image encoder without its CNN; the CNN at the base lr
  // (empty for BUTD; without --img_finetune its parameters never get a gradient, so AdamW leaves them
  // alone, weight decay included); the text encoder without its set module; the text set module
  optim::ParamGroup g_img{"img_enc", {}, 0, o.lr * o.img_pie_lr_scale, o.weight_decay};
  optim::ParamGroup g_cnn{"img_enc.cnn", {}, 0, o.lr, o.weight_decay};
  optim::ParamGroup g_txt{"txt_enc", {}, 0, o.lr * o.txt_lr_scale, o.weight_decay};
  optim::ParamGroup g_txt_spm{"txt_enc.spm", {}, 0, o.lr * o.txt_pie_lr_scale, o.weight_decay};
  for (auto& [name, p] : m.named_parameters()) {
    if (name.rfind("img_enc.cnn.", 0) == 0) g_cnn.params.push_back(p);
    else if (name.rfind("img_enc.", 0) == 0) g_img.params.push_back(p);
    else if (name.rfind("txt_enc.spm.", 0) == 0) g_txt_spm.params.push_back(p);
    else g_txt.params.push_back(p);
  }
  for (auto* g : {&g_img, &g_cnn, &g_txt, &g_txt_spm}) g->lr = g->initial_lr;
  optim::Adam opt({g_img, g_cnn, g_txt, g_txt_spm}, o.optimizer == "adamw");
  const size_t txt_group = 2;  // its lr goes into the progress line
  std::vector<Tensor> params = m.parameters();

  TrainState st;
  // the sizes come from the data: store them so that eval/encode rebuild the same model
  st.options = options_dump + "vocab_size = " + std::to_string(cfg.vocab_size) + "\nimg_dim = " + std::to_string(cfg.img_dim) + "\n";
  if (!o.resume.empty()) {
    TrainState saved = load_checkpoint(o.resume, m, &opt);
    st.epoch = saved.epoch;
    st.step = saved.step;
    st.best_rsum = saved.best_rsum;
    default_generator().manual_seed(saved.rng_seed);
    default_generator().set_offset(saved.rng_offset);
    std::printf("resumed from %s: epoch %lld, step %lld\n", o.resume.c_str(), (long long)st.epoch, (long long)st.step);
  }

  std::filesystem::create_directories(o.logger_name);
  std::string last = o.logger_name + "/checkpoint_last.safetensors", best = o.logger_name + "/checkpoint_best.safetensors";
  std::ofstream log(o.logger_name + "/log.jsonl", std::ios::app);
  auto save = [&](const std::string& path) {
    st.rng_seed = default_generator().seed();
    st.rng_offset = default_generator().offset();
    save_checkpoint(path, m, &opt, st);
  };

  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.drop_last = o.drop_last;
  lo.workers = o.workers;
  lo.seed = uint64_t(o.seed);
  lo.caption_drop_prob = o.caption_drop_prob;
  lo.butd_drop_prob = o.butd_drop_prob;
  lo.crop_size = cfg.crop_size;
  std::unique_ptr<data::Loader> loader = train_ds.loader(vocab, lo);
  int64_t per_epoch = loader->batches_per_epoch(), total_steps = per_epoch * o.num_epochs;
  if (o.max_steps >= 0) total_steps = std::min(total_steps, o.max_steps);

  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
  for (int64_t epoch = st.epoch; epoch < o.num_epochs && st.step < total_steps; ++epoch) {
    m.train();
    if (o.tri_mean_to_max) m.cfg.max_violation = epoch >= o.warm_epoch;  // official tri_mean_to_max()
    loader->start_epoch(epoch);
    Progress bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.num_epochs), per_epoch);
    data::Batch db;
    int64_t in_epoch = 0, images = 0;
    auto t0 = std::chrono::steady_clock::now();
    // skip the batches a resumed run already consumed in this epoch (same order: seeded by epoch)
    int64_t skip = st.step - epoch * per_epoch;
    while (skip-- > 0 && loader->next(db)) ++in_epoch;
    while (st.step < total_steps && loader->next(db)) {
      if (o.lr_scheduler == "cosine") optim::cosine_schedule(opt, st.step, per_epoch * o.num_epochs);
      else optim::step_schedule(opt, epoch, o.lr_step_size, o.lr_step_gamma);
      opt.zero_grad();
      model::StepOutput out = m.forward(to_model_batch(db, dev));
      out.loss.total.backward();
      if (o.grad_clip > 0) optim::clip_grad_norm(params, o.grad_clip);
      // The loss is read back once the whole step is queued (on a GPU, reading it earlier would stall the
      // stream between forward and backward). A non-finite loss stops before anything is saved.
      double loss = out.loss.total.item<double>();
      if (!finite(loss)) {
        std::fprintf(stderr, "\nerror: loss is %f at epoch %lld step %lld; stopping. The last good checkpoint is %s\n",
                     loss, (long long)epoch, (long long)st.step, last.c_str());
        result.diverged = true;
        return result;
      }
      if (result.steps == 0 && st.step == 0) result.first_loss = loss;
      result.last_loss = loss;
      result.steps = st.step + 1;
      opt.step();
      ++st.step;
      ++in_epoch;
      images += int64_t(db.image_ids.size());
      if (st.step % o.log_step == 0 || in_epoch == per_epoch) {
        double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        char extra[256];
        std::snprintf(extra, sizeof extra, "%.1f img/s loss %.4f (i2t %.4f t2i %.4f mmd %.4f unif %.4f) lr %.2e",
                      double(images) / std::max(el, 1e-9), loss, out.loss.i2t.item<double>(), out.loss.t2i.item<double>(),
                      out.loss.mmd.item<double>(), out.loss.unif.item<double>(), opt.groups()[txt_group].lr);
        bar.update(in_epoch, extra);
        log << "{\"type\": \"step\", \"epoch\": " << epoch << ", \"step\": " << st.step << ", \"loss\": " << loss
            << ", \"i2t\": " << out.loss.i2t.item<double>() << ", \"t2i\": " << out.loss.t2i.item<double>()
            << ", \"mmd\": " << out.loss.mmd.item<double>() << ", \"unif\": " << out.loss.unif.item<double>()
            << ", \"images_per_s\": " << double(images) / std::max(el, 1e-9) << "}\n";
        log.flush();
      }
      if (g_interrupted) {
        save(last);
        std::fprintf(stderr, "\ninterrupted: saved %s (epoch %lld, step %lld); continue with --resume %s\n", last.c_str(),
                     (long long)epoch, (long long)st.step, last.c_str());
        result.interrupted = true;
        result.steps = st.step;
        return result;
      }
    }
    std::fprintf(stderr, "\n");
    if (dev.kind == DeviceKind::cuda) {
      DeviceMemory mem = device_memory(dev);
      std::printf("epoch %lld: peak GPU memory %.0f MiB in tensors (%.0f MiB reserved by the caching allocator)\n",
                  (long long)(epoch + 1), double(mem.peak_allocated) / 1048576.0, double(mem.peak_reserved) / 1048576.0);
    }
    if (in_epoch == per_epoch) st.epoch = epoch + 1;
    bool validate = (epoch + 1) % o.eval_epoch == 0 || st.epoch == o.num_epochs || st.step >= total_steps;
    if (validate) {
      Encoded e = encode_split(m, val_ds, vocab, dev, 256, false, o.workers);
      auto rows = evaluate(cfg, e, dev);
      const model::RecallMetrics& r = rows.back().second;
      result.last_eval = r;
      std::printf("validation after epoch %lld:\n%s", (long long)(epoch + 1), model::format_table(rows).c_str());
      log << "{\"type\": \"eval\", \"epoch\": " << epoch + 1 << ", \"step\": " << st.step
          << ", \"metrics\": " << model::to_json(r) << "}\n";
      log.flush();
      if (r.rsum > st.best_rsum) {
        st.best_rsum = r.rsum;
        save(best);
        std::printf("new best rsum %.1f: saved %s\n", r.rsum, best.c_str());
      }
    }
    save(last);
  }
  std::printf("done: %lld steps; last checkpoint %s, best %s (rsum %.1f)\n", (long long)st.step, last.c_str(),
              best.c_str(), st.best_rsum);
  result.steps = st.step;
  result.best_rsum = st.best_rsum;
  return result;
}

}  // namespace dive::tools
