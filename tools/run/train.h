// The training loop of `dive train` (tools/run/train.cpp), callable in-process (tests use it for resume and
// smoke checks), and its options.
#pragma once
#include <string>

#include "model/config.h"
#include "model/retrieval.h"
#include "tools/run/session.h"

namespace dive::tools {

struct TrainOptions {
  std::string data_name = "coco_butd", data_path, vocab_path, logger_name = "runs/dive", resume, device = "cpu";
  DeviceFlags device_flags;  // --allow_tf32, --nondeterministic
  std::string optimizer = "adamw", lr_scheduler = "cosine", wemb_type = "none", wemb_path;
  std::string cnn_weights;  // ImageNet weights of the CNN branch (tools/convert/convert_torchvision.py)
  int64_t batch_size = 200, num_epochs = 80, workers = 2, log_step = 10, eval_epoch = 1, lr_step_size = 30;
  int64_t seed = 0, max_steps = -1, warm_epoch = 0;
  double lr = 1e-3, weight_decay = 1e-4, grad_clip = 1.0, lr_step_gamma = 0.1;
  double img_pie_lr_scale = 0.1, txt_pie_lr_scale = 0.1, txt_lr_scale = 1.0;
  double caption_drop_prob = 0.2, butd_drop_prob = 0.2;
  bool drop_last = false, tri_mean_to_max = false, help = false;
};

void add_train_options(model::OptionSet& s, TrainOptions& o);

struct TrainResult {
  int64_t steps = 0;
  double first_loss = 0, last_loss = 0, best_rsum = -1;
  model::RecallMetrics last_eval;
  bool interrupted = false, diverged = false;
};

// Trains as `dive train` does; `options_dump` is stored in the checkpoints.
TrainResult run_training(model::ModelConfig cfg, const TrainOptions& o, const std::string& options_dump);

}  // namespace dive::tools
