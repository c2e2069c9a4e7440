// The one-gate cells: the compiled counterparts of unroll/pointwise/elman.py.
//
//   Elman:  h = phi(xp_t + W_hh h_in);  da = dh phi'(a);  dh_in += da @ W_hh
//   Leaky:  u = tanh(xp_t + W_hh h_in),  h = a h_prev + (1 - a) u
//           dh_prev += dh a;  da_u = dh (1 - a)(1 - u^2);  dh_in += da_u @ W_hh
//           d rate = sum over steps and rows of dh (h_prev - u)
#pragma once

#include "cell.h"
#include "product.h"
#include "rows.h"

namespace rnnkit {

template <typename scalar_t, bool kRelu>
void elman_forward_row(scalar_t* __restrict h, int64_t hidden) {
  for (int64_t j = 0; j < hidden; ++j) {
    h[j] = kRelu ? (h[j] > scalar_t(0) ? h[j] : scalar_t(0)) : std::tanh(h[j]);
  }
}

// phi' read off the output: 1 - h^2 for tanh, [h > 0] for relu
template <typename scalar_t, bool kRelu>
void elman_backward_row(const scalar_t* __restrict h, const scalar_t* __restrict dh,
                        scalar_t* __restrict d, int64_t hidden) {
  for (int64_t j = 0; j < hidden; ++j) {
    d[j] = kRelu ? (h[j] > scalar_t(0) ? dh[j] : scalar_t(0)) : dh[j] * (scalar_t(1) - h[j] * h[j]);
  }
}

template <typename scalar_t>
void leaky_backward_row(const scalar_t* __restrict u, const scalar_t* __restrict rate,
                        const scalar_t* __restrict dh, scalar_t* __restrict dh_prev,
                        scalar_t* __restrict d, int64_t hidden) {
  for (int64_t j = 0; j < hidden; ++j) {
    dh_prev[j] += dh[j] * rate[j];
    d[j] = dh[j] * (scalar_t(1) - rate[j]) * (scalar_t(1) - u[j] * u[j]);
  }
}

// What both one-gate cells share: one product each way and a (T, B, H) gradient buffer.
template <typename scalar_t>
class OneGateCell : public Cell<scalar_t> {
 protected:
  OneGateCell(const Tensor& w_hh, int64_t steps, int64_t batch, int64_t onednn_from)
      : Cell<scalar_t>(steps, batch, w_hh.size(1)),
        forward_product_(w_hh, batch, onednn_from),
        backward_product_(w_hh.t(), batch, onednn_from) {}

  // step t's block of the gradient buffer, which the first backward step makes
  Matrix<scalar_t> gradient_block(int64_t t, const Tensor& like) {
    if (!d_.defined()) d_ = workspace(like, {this->steps_, this->batch_, this->hidden_});
    return this->block(ptr<scalar_t>(d_), t, this->hidden_, this->hidden_);
  }

  Product<scalar_t> forward_product_, backward_product_;  // h_in @ W_hh^T, da @ W_hh
  Tensor d_;  // (T, B, H): da, which is also the projected input's gradient
};

template <typename scalar_t>
class ElmanCell : public OneGateCell<scalar_t> {
  using OneGateCell<scalar_t>::batch_, OneGateCell<scalar_t>::hidden_, OneGateCell<scalar_t>::d_;

 public:
  ElmanCell(bool relu, const std::vector<Tensor>& weights, int64_t steps, int64_t batch,
            int64_t onednn_from)
      : OneGateCell<scalar_t>(weights[0], steps, batch, onednn_from),
        relu_(relu),
        like_(weights[0]) {}

  void forward(const Step<scalar_t>& s) override {
    const Matrix<scalar_t> h = this->state(s.made[0]);
    this->forward_product_.into(h, this->state(s.h_in), s.xp, s.xp_ld);
    auto row_fn = relu_ ? elman_forward_row<scalar_t, true> : elman_forward_row<scalar_t, false>;
    for_each_row(batch_, hidden_, [&](int64_t b) { row_fn(h.row(b), hidden_); });
  }

  void backward(const Step<scalar_t>& s, const scalar_t* const* d_new, scalar_t* const*,
                scalar_t* d_h_in) override {
    const Matrix<scalar_t> d = this->gradient_block(s.t, like_);
    const scalar_t *h = s.made[0], *dh = d_new[0];
    auto row_fn = relu_ ? elman_backward_row<scalar_t, true> : elman_backward_row<scalar_t, false>;
    for_each_row(batch_, hidden_, [&](int64_t b) {
      row_fn(h + b * hidden_, dh + b * hidden_, d.row(b), hidden_);
    });
    this->backward_product_.accumulate(this->state(d_h_in), d);
  }

  Grads finish(const Tensor& h_in_all, const std::vector<Tensor>&, const std::vector<Tensor>&,
               const std::vector<Tensor>&) override {
    return {d_, {d_, h_in_all}, {}};
  }

 private:
  bool relu_;
  Tensor like_;  // the dtype and device of the gradient buffer
};

template <typename scalar_t>
class LeakyCell : public OneGateCell<scalar_t> {
  using OneGateCell<scalar_t>::batch_, OneGateCell<scalar_t>::hidden_, OneGateCell<scalar_t>::d_,
      OneGateCell<scalar_t>::saved;

 public:
  // weights: W_hh and the rate a (H,). saved: the candidates u, or empty (forward).
  LeakyCell(const std::vector<Tensor>& weights, int64_t steps, int64_t batch, bool saving,
            int64_t onednn_from, const std::vector<Tensor>& saved_before)
      : OneGateCell<scalar_t>(weights[0], steps, batch, onednn_from),
        saving_(saving),
        rate_(weights[1].contiguous()) {
    saved = saved_before.empty()
                ? std::vector<Tensor>{workspace(weights[0], {saving ? steps : 1, batch, hidden_})}
                : saved_before;
  }

  void forward(const Step<scalar_t>& s) override {
    const Matrix<scalar_t> u = this->block(ptr<scalar_t>(saved[0]), saving_ ? s.t : 0, hidden_,
                                           hidden_);
    this->forward_product_.into(u, this->state(s.h_in), s.xp, s.xp_ld);
    const scalar_t* rate = ptr<scalar_t>(rate_);
    for_each_row(batch_, hidden_, [&](int64_t b) {
      const int64_t k = b * hidden_;
      tanh_and_keep_row(u.row(b), rate, s.prev[0] + k, s.made[0] + k, hidden_);
    });
  }

  void backward(const Step<scalar_t>& s, const scalar_t* const* d_new, scalar_t* const* d_prev,
                scalar_t* d_h_in) override {
    const Matrix<scalar_t> d = this->gradient_block(s.t, saved[0]);
    const scalar_t* u = ptr<scalar_t>(saved[0]) + s.t * batch_ * hidden_;
    const scalar_t* rate = ptr<scalar_t>(rate_);
    for_each_row(batch_, hidden_, [&](int64_t b) {
      const int64_t k = b * hidden_;
      leaky_backward_row(u + k, rate, d_new[0] + k, d_prev[0] + k, d.row(b), hidden_);
    });
    this->backward_product_.accumulate(this->state(d_h_in), d);
  }

  Grads finish(const Tensor& h_in_all, const std::vector<Tensor>& prev_all,
               const std::vector<Tensor>&, const std::vector<Tensor>& d_new_all) override {
    return {d_, {d_, h_in_all}, {(d_new_all[0] * (prev_all[0] - saved[0])).sum({0, 1})}};
  }

 private:
  bool saving_;
  Tensor rate_;
};

}  // namespace rnnkit
