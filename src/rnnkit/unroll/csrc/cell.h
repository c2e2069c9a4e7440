// The contract between the compiled time loop (engine.cpp) and one cell's compiled maths.
//
// The same split as the Python engine (unroll/timeloop.py and unroll/pointwise/): the loop owns
// time (slots, dilation, zoneout, the recurrent dropout mask), a cell owns one step's products and
// pointwise maths, forward and backward, and its parameter gradients after the loop. A step is
// handed raw pointers: every state is a contiguous (B, H) block, the projected input (B, G).
#pragma once

#include <torch/extension.h>

#include <vector>

#include "product.h"
#include "workspace.h"

namespace rnnkit {

using torch::Tensor;

constexpr int kMaxStates = 2;  // (h, c)

// One step as a cell sees it.
template <typename scalar_t>
struct Step {
  int64_t t;
  const scalar_t* xp;                // (B, G): the projected input (forward only), rows xp_ld apart
  int64_t xp_ld;
  const scalar_t* h_in;              // (B, H): the state entering the recurrent product
  const scalar_t* prev[kMaxStates];  // the states before the step
  scalar_t* made[kMaxStates];        // the states the cell makes (before zoneout)
};

// After the backward loop: the gradient of the projected input; the recurrent weight's gradient
// as pairs (d, inputs), each meaning sum_t d_t^T inputs_t, stacked along the weight's rows (the
// caller forms them as large GEMMs); the other weights' gradients, in Kernel.weights' order.
struct Grads {
  Tensor d_xp;
  std::vector<Tensor> pairs;  // d_1, inputs_1, d_2, inputs_2, ...
  std::vector<Tensor> others;
};

template <typename scalar_t>
class Cell {
 public:
  Cell(int64_t steps, int64_t batch, int64_t hidden)
      : steps_(steps), batch_(batch), hidden_(hidden) {}
  virtual ~Cell() = default;

  // Step forward: write the new states into step.made.
  virtual void forward(const Step<scalar_t>& step) = 0;

  // Step backward. d_new: the complete gradients of the made states. Add the gradients that
  // reach the previous states directly into d_prev, and the gradient of h_in into d_h_in.
  virtual void backward(const Step<scalar_t>& step, const scalar_t* const* d_new,
                        scalar_t* const* d_prev, scalar_t* d_h_in) = 0;

  // After the backward loop; each argument is (T, B, ...) over all steps.
  virtual Grads finish(const Tensor& h_in_all, const std::vector<Tensor>& prev_all,
                       const std::vector<Tensor>& made_all,
                       const std::vector<Tensor>& d_new_all) = 0;

  // The buffers the forward fills and the backward reads; the caller keeps them in between.
  std::vector<Tensor> saved;

 protected:
  // A (B, width) block of a (T, B, width) buffer at step t, width_used of its columns.
  Matrix<scalar_t> block(scalar_t* base, int64_t t, int64_t width, int64_t used) const {
    return {base + t * batch_ * width, batch_, used, width};
  }
  Matrix<scalar_t> state(const scalar_t* p) const {
    return {const_cast<scalar_t*>(p), batch_, hidden_, hidden_};
  }

  int64_t steps_, batch_, hidden_;
};

}  // namespace rnnkit
