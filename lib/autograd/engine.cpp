// The backward engine: topological order over the nodes reachable from the root, gradient
// accumulation per node output, leaf accumulation into .grad, and freeing the graph as it goes.
#include <unordered_map>

#include "lib/autograd/grad_mode.h"
#include "lib/autograd/node.h"
#include "lib/core/hooks.h"

namespace dive {

namespace {
thread_local bool t_grad_enabled = true;
}

bool GradMode::enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool on) { t_grad_enabled = on; }

namespace autograd {

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor*>& outputs,
            BackwardFn fn) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs.reserve(inputs.size());
  for (const auto& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      if (t.impl().grad_fn) {
        e.node = t.impl().grad_fn;
        e.output_nr = t.impl().output_nr;
      } else {
        e.leaf = t.impl_ptr();
      }
    }
    node->inputs.push_back(std::move(e));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    Tensor* out = outputs[i];
    node->outputs.push_back({out->shape(), out->dtype(), out->device()});
    if (!out->defined() || !is_floating(out->dtype())) continue;  // indices and masks carry no grad
    out->impl().requires_grad = true;
    out->impl().grad_fn = node;
    out->impl().output_nr = int(i);
  }
  node->backward = std::move(fn);
}

namespace {

void accumulate(Tensor& slot, const Tensor& g) {
  if (!slot.defined()) {
    slot = g;
  } else {
    slot = core_hooks().add(slot, g);
  }
}

void accumulate_leaf(TensorImpl& leaf, const Tensor& g) {
  Tensor gd = g.detach();
  if (gd.shape() != leaf.shape) {
    DIVE_FAIL("backward: gradient of shape ", shape_str(gd.shape()), " for a leaf of shape ",
              shape_str(leaf.shape));
  }
  if (!leaf.grad) {
    // Gradients are never written in place (accumulation makes a new tensor), so sharing is safe;
    // a broadcast view is materialised.
    leaf.grad = gd.contiguous().impl_ptr();
  } else {
    leaf.grad = core_hooks().add(Tensor(leaf.grad), gd).impl_ptr();
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad) {
  DIVE_CHECK(root.requires_grad(), "backward: tensor does not require grad (did any input have requires_grad?)");
  Tensor g0 = grad;
  if (!g0.defined()) {
    DIVE_CHECK(root.numel() == 1, "backward: implicit gradient only for scalar outputs, got shape ",
               shape_str(root.shape()), "; pass a gradient");
    g0 = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  DIVE_CHECK(g0.shape() == root.shape(), "backward: gradient shape ", shape_str(g0.shape()),
             " does not match output shape ", shape_str(root.shape()));
  NoGradGuard no_grad;
  if (!root.impl().grad_fn) {  // a leaf: its gradient is the seed itself
    accumulate_leaf(root.impl(), g0);
    return;
  }

  // Count, for every reachable node, how many edges point at it (iterative DFS).
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack{root.impl().grad_fn.get()};
  pending[stack.back()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& e : n->inputs) {
      if (!e.node) continue;
      auto [it, fresh] = pending.try_emplace(e.node.get(), 0);
      ++it->second;
      if (fresh) stack.push_back(e.node.get());
    }
  }

  std::unordered_map<Node*, std::vector<Tensor>> grads;
  Node* root_node = root.impl().grad_fn.get();
  grads[root_node].resize(root_node->outputs.size());
  grads[root_node][root.impl().output_nr] = g0;
  // Keep every node alive while we work (a node may be owned only by the edges we are releasing).
  std::shared_ptr<Node> keep_root = root.impl().grad_fn;
  std::vector<std::shared_ptr<Node>> ready{keep_root};

  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    DIVE_CHECK(node->backward, "backward through node '", node->name,
               "' a second time: the graph is freed after backward()");
    std::vector<Tensor> gout = std::move(grads[node.get()]);
    grads.erase(node.get());
    gout.resize(node->outputs.size());
    for (size_t i = 0; i < gout.size(); ++i) {
      if (!gout[i].defined()) {
        const auto& m = node->outputs[i];
        gout[i] = Tensor::zeros(m.shape, m.dtype, m.device);
      }
    }
    std::vector<Tensor> gin = node->backward(gout);
    node->backward = nullptr;  // frees saved tensors
    DIVE_CHECK(gin.size() == node->inputs.size(), "backward rule of '", node->name, "' returned ",
               gin.size(), " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < gin.size(); ++i) {
      Edge& e = node->inputs[i];
      if (!e.valid() || !gin[i].defined()) {
        if (e.node && --pending[e.node.get()] == 0) ready.push_back(e.node);
        continue;
      }
      if (e.leaf) {
        accumulate_leaf(*e.leaf, gin[i]);
      } else {
        auto& slot = grads[e.node.get()];
        slot.resize(e.node->outputs.size());
        const auto& m = e.node->outputs[e.output_nr];
        DIVE_CHECK(gin[i].shape() == m.shape, "backward rule of '", node->name, "' gave input ", i,
                   " a gradient of shape ", shape_str(gin[i].shape()), ", expected ", shape_str(m.shape));
        accumulate(slot[e.output_nr], gin[i]);
        if (--pending[e.node.get()] == 0) ready.push_back(e.node);
      }
    }
    node->inputs.clear();
  }
}

}  // namespace autograd


}  // namespace dive
