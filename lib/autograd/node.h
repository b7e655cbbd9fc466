// A node of the define-by-run tape: the backward rule of one op application.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/tensor.h"

namespace dive::autograd {
using Node = GradNode;
}  // namespace dive::autograd

namespace dive::autograd {

// Where the gradient of one op input goes: another node's output, or a leaf's .grad.
struct Edge {
  std::shared_ptr<Node> node;        // set when the input was produced by an op
  int output_nr = 0;
  std::shared_ptr<TensorImpl> leaf;  // set when the input is a leaf that requires grad
  bool valid() const { return node || leaf; }
};

// Metadata of one op output, so that a gradient that never arrived can be materialised as zeros.
struct OutputMeta {
  Shape shape;
  DType dtype;
  Device device;
};

// grads[i] is the gradient of output i (always defined when the rule runs); returns one gradient
// per input (an undefined Tensor where an input gets none).
using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads)>;

}  // namespace dive::autograd

// The tape node (the opaque TensorImpl::grad_fn of lib/core; autograd::Node).
struct dive::GradNode {
  std::string name;
  std::vector<autograd::Edge> inputs;
  std::vector<autograd::OutputMeta> outputs;
  autograd::BackwardFn backward;  // released after it ran: the graph is freed by backward()
};

namespace dive::autograd {

// True when grad mode is on and any of the tensors requires grad.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `outputs` (marking them requires_grad) whose inputs are `inputs`.
// Call only when any_requires_grad(inputs). Rules must capture saved tensors via detach() so that
// a node never owns its own outputs (no reference cycles).
void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor*>& outputs,
            BackwardFn fn);

// Runs reverse-mode differentiation from `root` with initial gradient `grad`.
void run_backward(const Tensor& root, const Tensor& grad);

}  // namespace dive::autograd
