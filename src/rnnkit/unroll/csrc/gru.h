// The GRU, both reset placements: the compiled counterpart of unroll/pointwise/gru.py.
//
//   reset="after":  s = W_hh h_in + b_hh;  r, z = sigmoid(xp_rz + s_rz);  n = tanh(xp_n + r s_n)
//   reset="before": r, z = sigmoid(xp_rz + W_hrz h_in);  q = r h_in;  n = tanh(xp_n + W_hn q)
//   h = (1 - z) n + z h_prev
//
// Backward, with dh the gradient of this step's h:
//   dh_prev += dh z,  da_z = dh (h_prev - n) z (1 - z),  da_n = dh (1 - z) (1 - n^2)
//   after:  da_r = da_n s_n r (1 - r);  ds = [da_r, da_z, da_n r];  dh_in += ds @ W_hh
//   before: dq = da_n @ W_hn;  da_r = dq h_in r (1 - r);  dh_in += dq r + da_rz @ W_hrz
#pragma once

#include "cell.h"
#include "product.h"
#include "rows.h"

namespace rnnkit {

// After: a (r, z, n) receives the activations; s is W_hh h_in + b_hh.
template <typename scalar_t>
void gru_after_forward_row(const scalar_t* __restrict xp, const scalar_t* __restrict s,
                           scalar_t* __restrict a, const scalar_t* __restrict h_prev,
                           scalar_t* __restrict h_new, int64_t hidden) {
  const int64_t H = hidden;
  for (int64_t j = 0; j < H; ++j) {
    const scalar_t r = sigmoid(xp[j] + s[j]);
    const scalar_t z = sigmoid(xp[H + j] + s[H + j]);
    const scalar_t n = std::tanh(xp[2 * H + j] + r * s[2 * H + j]);
    a[j] = r;
    a[H + j] = z;
    a[2 * H + j] = n;
    h_new[j] = n + z * (h_prev[j] - n);
  }
}

// After: d holds (da_r, da_z, ds_n, da_n), so that ds is its first 3H and dxp skips ds_n.
template <typename scalar_t>
void gru_after_backward_row(const scalar_t* __restrict a, const scalar_t* __restrict s,
                            const scalar_t* __restrict h_prev, const scalar_t* __restrict dh,
                            scalar_t* __restrict dh_prev, scalar_t* __restrict d,
                            int64_t hidden) {
  const int64_t H = hidden;
  for (int64_t j = 0; j < H; ++j) {
    const scalar_t r = a[j], z = a[H + j], n = a[2 * H + j], g = dh[j];
    const scalar_t d_n = g * (scalar_t(1) - z) * (scalar_t(1) - n * n);
    dh_prev[j] += g * z;
    d[j] = d_n * s[2 * H + j] * r * (scalar_t(1) - r);
    d[H + j] = g * (h_prev[j] - n) * z * (scalar_t(1) - z);
    d[2 * H + j] = d_n * r;
    d[3 * H + j] = d_n;
  }
}

// Before, first half: r and z activated in place, q = r h_in.
template <typename scalar_t>
void gru_before_gates_row(scalar_t* __restrict a, const scalar_t* __restrict h_in,
                          scalar_t* __restrict q, int64_t hidden) {
  for (int64_t j = 0; j < 2 * hidden; ++j) a[j] = sigmoid(a[j]);
  for (int64_t j = 0; j < hidden; ++j) q[j] = a[j] * h_in[j];
}

// Before, first half: dh_prev, da_z and da_n (d holds da_r, da_z, da_n).
template <typename scalar_t>
void gru_before_update_backward_row(const scalar_t* __restrict a,
                                    const scalar_t* __restrict h_prev,
                                    const scalar_t* __restrict dh, scalar_t* __restrict dh_prev,
                                    scalar_t* __restrict d, int64_t hidden) {
  const int64_t H = hidden;
  for (int64_t j = 0; j < H; ++j) {
    const scalar_t z = a[H + j], n = a[2 * H + j], g = dh[j];
    dh_prev[j] += g * z;
    d[H + j] = g * (h_prev[j] - n) * z * (scalar_t(1) - z);
    d[2 * H + j] = g * (scalar_t(1) - z) * (scalar_t(1) - n * n);
  }
}

// Before, second half, once dq = da_n @ W_hn is known: da_r, and dq r into dh_in.
template <typename scalar_t>
void gru_before_reset_backward_row(const scalar_t* __restrict a,
                                   const scalar_t* __restrict h_in,
                                   const scalar_t* __restrict dq, scalar_t* __restrict d,
                                   scalar_t* __restrict dh_in, int64_t hidden) {
  for (int64_t j = 0; j < hidden; ++j) {
    const scalar_t r = a[j];
    d[j] = dq[j] * h_in[j] * r * (scalar_t(1) - r);
    dh_in[j] += dq[j] * r;
  }
}

template <typename scalar_t>
class GRUCell : public Cell<scalar_t> {
  using Cell<scalar_t>::batch_, Cell<scalar_t>::hidden_, Cell<scalar_t>::saved;

 public:
  // weights: W_hh, and b_hh for reset="after" with a bias. saved: gates (r, z, n) and what r
  // multiplies (s, or q), or empty (forward).
  GRUCell(bool before, const std::vector<Tensor>& weights, int64_t steps, int64_t batch,
          bool saving, int64_t onednn_from, const std::vector<Tensor>& saved_before)
      : Cell<scalar_t>(steps, batch, weights[0].size(1)), before_(before), saving_(saving) {
    const Tensor& w = weights[0];
    const int64_t H = hidden_;
    if (before_) {
      const Tensor w_rz = w.narrow(0, 0, 2 * H), w_n = w.narrow(0, 2 * H, H);
      products_ = {Product<scalar_t>(w_rz, batch, onednn_from),
                   Product<scalar_t>(w_n, batch, onednn_from),
                   Product<scalar_t>(w_rz.t(), batch, onednn_from),
                   Product<scalar_t>(w_n.t(), batch, onednn_from)};
      dq_ = workspace(w, {batch, H});
    } else {
      products_ = {Product<scalar_t>(w, batch, onednn_from),
                   Product<scalar_t>(w.t(), batch, onednn_from)};
      if (weights.size() > 1) b_hh_ = weights[1].contiguous();
    }
    const int64_t rows = saving ? steps : 1;
    saved = !saved_before.empty()
                ? saved_before
                : std::vector<Tensor>{workspace(w, {rows, batch, 3 * H}),
                                      workspace(w, {rows, batch, before_ ? H : 3 * H})};
    gates_ = ptr<scalar_t>(saved[0]);
    kept_ = ptr<scalar_t>(saved[1]);
  }

  void forward(const Step<scalar_t>& s) override {
    const int64_t row = saving_ ? s.t : 0, H = hidden_;
    const Matrix<scalar_t> a = this->block(gates_, row, 3 * H, 3 * H);
    const scalar_t* h_prev = s.prev[0];
    scalar_t* h_new = s.made[0];
    if (!before_) {
      const Matrix<scalar_t> kept = this->block(kept_, row, 3 * H, 3 * H);
      const scalar_t* bias = b_hh_.defined() ? ptr<scalar_t>(b_hh_) : nullptr;
      products_[0].into(kept, this->state(s.h_in), bias, 0);
      for_each_row(batch_, 3 * H, [&](int64_t b) {
        gru_after_forward_row(s.xp + b * s.xp_ld, kept.row(b), a.row(b), h_prev + b * H,
                              h_new + b * H, H);
      });
      return;
    }
    const Matrix<scalar_t> q = this->block(kept_, row, H, H);
    products_[0].into({a.data, batch_, 2 * H, 3 * H}, this->state(s.h_in), s.xp, s.xp_ld);
    for_each_row(batch_, 3 * H, [&](int64_t b) {
      gru_before_gates_row(a.row(b), s.h_in + b * H, q.row(b), H);
    });
    products_[1].into({a.data + 2 * H, batch_, H, 3 * H}, q, s.xp + 2 * H, s.xp_ld);
    for_each_row(batch_, 2 * H, [&](int64_t b) {
      scalar_t* g = a.row(b);
      tanh_and_keep_row(g + 2 * H, g + H, h_prev + b * H, h_new + b * H, H);
    });
  }

  void backward(const Step<scalar_t>& s, const scalar_t* const* d_new, scalar_t* const* d_prev,
                scalar_t* d_h_in) override {
    const int64_t H = hidden_, width = before_ ? 3 * H : 4 * H;
    if (!d_.defined()) d_ = workspace(saved[0], {saved[0].size(0), batch_, width});
    const Matrix<scalar_t> d = this->block(ptr<scalar_t>(d_), s.t, width, width);
    const scalar_t* gates = gates_ + s.t * batch_ * 3 * H;
    const scalar_t *h_prev = s.prev[0], *dh = d_new[0];
    scalar_t* dh_prev = d_prev[0];
    if (!before_) {
      const scalar_t* kept = kept_ + s.t * batch_ * 3 * H;
      for_each_row(batch_, 4 * H, [&](int64_t b) {
        gru_after_backward_row(gates + b * 3 * H, kept + b * 3 * H, h_prev + b * H, dh + b * H,
                               dh_prev + b * H, d.row(b), H);
      });
      products_[1].accumulate(this->state(d_h_in), {d.data, batch_, 3 * H, width});
      return;
    }
    for_each_row(batch_, 2 * H, [&](int64_t b) {
      gru_before_update_backward_row(gates + b * 3 * H, h_prev + b * H, dh + b * H,
                                     dh_prev + b * H, d.row(b), H);
    });
    const Matrix<scalar_t> dq = this->state(ptr<scalar_t>(dq_));
    products_[3].into(dq, {d.data + 2 * H, batch_, H, width}, nullptr, 0);
    for_each_row(batch_, 2 * H, [&](int64_t b) {
      gru_before_reset_backward_row(gates + b * 3 * H, s.h_in + b * H, dq.row(b), d.row(b),
                                    d_h_in + b * H, H);
    });
    products_[2].accumulate(this->state(d_h_in), {d.data, batch_, 2 * H, width});
  }

  Grads finish(const Tensor& h_in_all, const std::vector<Tensor>&, const std::vector<Tensor>&,
               const std::vector<Tensor>&) override {
    const int64_t H = hidden_;
    if (before_) {
      return {d_, {d_.narrow(2, 0, 2 * H), h_in_all, d_.narrow(2, 2 * H, H), saved[1]}, {}};
    }
    const Tensor d_s = d_.narrow(2, 0, 3 * H);
    Grads grads{at::cat({d_.narrow(2, 0, 2 * H), d_.narrow(2, 3 * H, H)}, 2), {d_s, h_in_all}, {}};
    if (b_hh_.defined()) grads.others = {d_s.sum({0, 1})};
    return grads;
  }

 private:
  bool before_, saving_;
  // after: h_in @ W_hh^T, ds @ W_hh; before: the same for W_hrz, then for W_hn
  std::vector<Product<scalar_t>> products_;
  Tensor b_hh_, dq_;           // dq_: (B, H), da_n @ W_hn for reset="before"
  scalar_t *gates_, *kept_;    // saved[0], saved[1]
  Tensor d_;  // after: (T, B, 4H) da_r, da_z, ds_n, da_n; before: (T, B, 3H) da_r, da_z, da_n
};

}  // namespace rnnkit
