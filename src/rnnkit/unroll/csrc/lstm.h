// The LSTM, with any of peepholes and layer norm: the compiled counterpart of
// unroll/pointwise/lstm.py.
//
//   a = xp_t + W_hh h_in                  gates stacked i, f, g, o
//       (layer norm: LN_i(xp_t) + b + LN_r(W_hh h_in), LN_i here or already in xp_t)
//   i, f = sigmoid(a_i + p_i c_prev, a_f + p_f c_prev),  g = tanh(a_g)
//   c = f c_prev + i g
//   o = sigmoid(a_o + p_o c),  h = o tanh(c)          (layer norm: o tanh(LN_c(c)))
//   (p = 0 without peepholes)
//
// Backward, with dh, dc the gradients of this step's h and c:
//   da_o = dh tanh(c) o (1 - o)
//   dc' = dc + LN_c'(dh o (1 - tanh^2)) + p_o da_o
//   da_i = dc' g i (1 - i),  da_f = dc' c_prev f (1 - f),  da_g = dc' i (1 - g^2)
//   dc_prev += dc' f + p_i da_i + p_f da_f,   dh_in += LN_r'(da) @ W_hh,   dxp = LN_i'(da)
// and the per-unit parameters' gradients summed over the step's rows.
#pragma once

#include "cell.h"
#include "layer_norm.h"
#include "product.h"
#include "rows.h"

namespace rnnkit {

// A layer norm's parameters: gain, bias (may be null), eps.
template <typename scalar_t>
struct Norm {
  const scalar_t* gain;
  const scalar_t* bias;
  scalar_t eps;
};

// The statistics and parameters of a row's layer norms: LN_r of W_hh h_in, and LN_i of the
// projected input where the loop applies it (gain_i null: xp comes normalised).
template <typename scalar_t>
struct RowNorms {
  const scalar_t* gain_r;
  const scalar_t* stats_r;
  const scalar_t* gain_i;
  const scalar_t* bias_i;
  const scalar_t* stats_i;
};

// One row forward. xp and rec: the projected input and W_hh h_in (4H each, gates i, f, g, o),
// summed here; with layer norm rec enters as LN_r(rec), and with kInputNorm xp as
// LN_i(xp) + bias_i. gates receives the activations. With layer norm, tanh_c receives
// tanh(LN_c(c)) and stats_c LN_c's statistics.
template <typename scalar_t, bool kPeephole, bool kLayerNorm, bool kInputNorm>
void lstm_forward_row(const scalar_t* __restrict xp, const scalar_t* __restrict rec,
                      const RowNorms<scalar_t>& norms, scalar_t* __restrict gates,
                      const scalar_t* __restrict c_prev, scalar_t* __restrict c_new,
                      scalar_t* __restrict tanh_c, scalar_t* __restrict h_new,
                      const scalar_t* __restrict p_i, const scalar_t* __restrict p_f,
                      const scalar_t* __restrict p_o, const Norm<scalar_t>& norm_c,
                      scalar_t* __restrict stats_c, int64_t hidden) {
  static_assert(kLayerNorm || !kInputNorm, "LN_i comes with layer norm");
  const int64_t H = hidden;
  const scalar_t* __restrict gain_r = norms.gain_r;
  const scalar_t* __restrict gain_i = norms.gain_i;
  const scalar_t* __restrict bias_i = norms.bias_i;
  const scalar_t mean_r = kLayerNorm ? norms.stats_r[0] : scalar_t(0);
  const scalar_t rstd_r = kLayerNorm ? norms.stats_r[1] : scalar_t(1);
  const scalar_t mean_i = kInputNorm ? norms.stats_i[0] : scalar_t(0);
  const scalar_t rstd_i = kInputNorm ? norms.stats_i[1] : scalar_t(1);
  const auto pre = [&](int64_t k) {  // the pre-activation of unit k of the 4H
    const scalar_t x = kInputNorm ? (xp[k] - mean_i) * rstd_i * gain_i[k] + bias_i[k] : xp[k];
    return kLayerNorm ? x + (rec[k] - mean_r) * rstd_r * gain_r[k] : x + rec[k];
  };
  for (int64_t j = 0; j < H; ++j) {
    const scalar_t cp = c_prev[j];
    const scalar_t i = sigmoid(kPeephole ? pre(j) + p_i[j] * cp : pre(j));
    const scalar_t f = sigmoid(kPeephole ? pre(H + j) + p_f[j] * cp : pre(H + j));
    const scalar_t g = std::tanh(pre(2 * H + j));
    const scalar_t c = f * cp + i * g;
    const scalar_t o = sigmoid(kPeephole ? pre(3 * H + j) + p_o[j] * c : pre(3 * H + j));
    gates[j] = i;
    gates[H + j] = f;
    gates[2 * H + j] = g;
    gates[3 * H + j] = o;
    c_new[j] = c;
    if constexpr (!kLayerNorm) {
      tanh_c[j] = std::tanh(c);
      h_new[j] = o * tanh_c[j];
    }
  }
  if constexpr (kLayerNorm) {  // LN_c needs the whole row of c first
    layer_norm_row<scalar_t>(c_new, H, norm_c.eps, norm_c.gain, norm_c.bias, tanh_c, stats_c);
    for (int64_t j = 0; j < H; ++j) {
      tanh_c[j] = std::tanh(tanh_c[j]);
      h_new[j] = gates[3 * H + j] * tanh_c[j];
    }
  }
}

// One row backward: the gates' pre-activation gradients da_*, and dc_prev accumulated. With layer
// norm, dc_norm is the gradient reaching c through LN_c, worked out beforehand (it needs the row).
template <typename scalar_t, bool kPeephole, bool kLayerNorm>
void lstm_backward_row(const scalar_t* __restrict i_, const scalar_t* __restrict f_,
                       const scalar_t* __restrict g_, const scalar_t* __restrict o_,
                       const scalar_t* __restrict tanh_c, const scalar_t* __restrict c_prev,
                       const scalar_t* __restrict dh, const scalar_t* __restrict dc,
                       const scalar_t* __restrict dc_norm, scalar_t* __restrict dc_prev,
                       scalar_t* __restrict da_i, scalar_t* __restrict da_f,
                       scalar_t* __restrict da_g, scalar_t* __restrict da_o,
                       const scalar_t* __restrict p_i, const scalar_t* __restrict p_f,
                       const scalar_t* __restrict p_o, int64_t hidden) {
  for (int64_t j = 0; j < hidden; ++j) {
    const scalar_t i = i_[j], f = f_[j], g = g_[j], o = o_[j], tc = tanh_c[j];
    const scalar_t d_o = dh[j] * tc * o * (scalar_t(1) - o);
    scalar_t d_c = dc[j] + (kLayerNorm ? dc_norm[j] : dh[j] * o * (scalar_t(1) - tc * tc));
    if (kPeephole) d_c += p_o[j] * d_o;
    const scalar_t d_i = d_c * g * i * (scalar_t(1) - i);
    const scalar_t d_f = d_c * c_prev[j] * f * (scalar_t(1) - f);
    da_i[j] = d_i;
    da_f[j] = d_f;
    da_g[j] = d_c * i * (scalar_t(1) - g * g);
    da_o[j] = d_o;
    dc_prev[j] += kPeephole ? d_c * f + p_i[j] * d_i + p_f[j] * d_f : d_c * f;
  }
}

// Layer norm only: d LN_c(c) = dh o (1 - tanh^2), kept for LN_c's gain and bias.
template <typename scalar_t>
void lstm_norm_grad_row(const scalar_t* __restrict o, const scalar_t* __restrict tanh_c,
                        const scalar_t* __restrict dh, scalar_t* __restrict d_norm,
                        int64_t hidden) {
  for (int64_t j = 0; j < hidden; ++j) {
    d_norm[j] = dh[j] * o[j] * (scalar_t(1) - tanh_c[j] * tanh_c[j]);
  }
}

template <typename scalar_t>
class LSTMCell : public Cell<scalar_t> {
  using Cell<scalar_t>::steps_, Cell<scalar_t>::batch_, Cell<scalar_t>::hidden_,
      Cell<scalar_t>::saved;

 public:
  // flags: peephole, layer_norm, eps of LN_r, eps of LN_c, and where the loop applies LN_i to
  // the projected input itself, eps of LN_i. weights: W_hh; p_i, p_f, p_o with peepholes;
  // gain_r, gain_c, bias_c with layer norm; gain_i and the shift after LN_i (b_ih + b_hh) with
  // LN_i. saved: gates, tanh(c), and with layer norm W_hh h_in and the statistics of LN_r, LN_c
  // (and LN_i), the backward's list ending with the projected input before LN_i; or empty
  // (forward).
  LSTMCell(const std::vector<double>& flags, const std::vector<Tensor>& weights, int64_t steps,
           int64_t batch, bool saving, int64_t onednn_from,
           const std::vector<Tensor>& saved_before)
      : Cell<scalar_t>(steps, batch, weights[0].size(1)),
        peephole_(flags[0] != 0.0),
        layer_norm_(flags[1] != 0.0),
        saving_(saving),
        forward_product_(weights[0], batch, onednn_from),
        backward_product_(weights[0].t(), batch, onednn_from) {
    for (size_t k = 1; k < weights.size(); ++k) parameters_.push_back(weights[k].contiguous());
    if (layer_norm_) {
      const size_t at = peephole_ ? 3 : 0;
      norm_r_ = {ptr<scalar_t>(parameters_[at]), nullptr, static_cast<scalar_t>(flags[2])};
      norm_c_ = {ptr<scalar_t>(parameters_[at + 1]), ptr<scalar_t>(parameters_[at + 2]),
                 static_cast<scalar_t>(flags[3])};
      if (flags.size() > 4) {
        norm_i_ = {ptr<scalar_t>(parameters_[at + 3]), ptr<scalar_t>(parameters_[at + 4]),
                   static_cast<scalar_t>(flags[4])};
      }
    }
    saved = saved_before;
    if (saved.empty() && !layer_norm_) scratch_ = workspace(weights[0], {batch, 4 * hidden_});
    if (saved.empty()) {
      const int64_t rows = saving ? steps : 1, H = hidden_;  // inference reuses one row
      const Tensor& w = weights[0];
      saved = {workspace(w, {rows, batch, 4 * H}), workspace(w, {rows, batch, H})};
      if (layer_norm_) {
        saved.push_back(workspace(w, {rows, batch, 4 * H}));  // W_hh h_in, before LN_r
        saved.push_back(workspace(w, {rows, batch, 2}));      // LN_r's (mean, rstd)
        saved.push_back(workspace(w, {rows, batch, 2}));      // LN_c's
        if (norm_i_.gain != nullptr) saved.push_back(workspace(w, {rows, batch, 2}));  // LN_i's
      }
    }
  }

  void forward(const Step<scalar_t>& s) override {
    const int64_t row = saving_ ? s.t : 0, H = hidden_;
    const Matrix<scalar_t> a = buffer(0, row, 4 * H), tc = buffer(1, row, H);
    // W_hh h_in; with layer norm, kept as it is for LN_r's derivative (the buffer's one row in
    // inference), else in a scratch row
    scalar_t* raw = layer_norm_ ? buffer(2, row, 4 * H).data : ptr<scalar_t>(scratch_);
    const scalar_t* rec = forward_product_.compute(this->state(s.h_in), raw);
    scalar_t* stats_r = layer_norm_ ? buffer(3, row, 2).data : nullptr;
    scalar_t* stats_c = layer_norm_ ? buffer(4, row, 2).data : nullptr;
    const bool keep_raw = layer_norm_ && saving_ && rec != raw;
    const auto row_fn = forward_row();
    for_each_row(batch_, 4 * H, [&](int64_t b) {
      const int64_t u = b * H, g = 4 * u;
      scalar_t* stats_i = norm_i_.gain != nullptr ? buffer(5, row, 2).row(b) : nullptr;
      RowNorms<scalar_t> norms{norm_r_.gain, nullptr, norm_i_.gain, norm_i_.bias, stats_i};
      if (layer_norm_) {
        norms.stats_r = stats_r + 2 * b;
        layer_norm_stats(rec + g, 4 * H, norm_r_.eps, stats_r + 2 * b);
        if (keep_raw) std::copy(rec + g, rec + g + 4 * H, raw + g);
      }
      const scalar_t* xp = s.xp + b * s.xp_ld;
      if (stats_i != nullptr) layer_norm_stats(xp, 4 * H, norm_i_.eps, stats_i);
      row_fn(xp, rec + g, norms, a.row(b), s.prev[1] + u, s.made[1] + u, tc.row(b),
             s.made[0] + u, peep(0), peep(1), peep(2), norm_c_,
             stats_c ? stats_c + 2 * b : nullptr, H);
    });
  }

  void backward(const Step<scalar_t>& s, const scalar_t* const* d_new, scalar_t* const* d_prev,
                scalar_t* d_h_in) override {
    const int64_t H = hidden_;
    if (!d_gates_.defined()) allocate_backward();
    const Matrix<scalar_t> gates = buffer(0, s.t, 4 * H), tc = buffer(1, s.t, H);
    const Matrix<scalar_t> da = this->block(ptr<scalar_t>(d_gates_), s.t, 4 * H, 4 * H);
    const Matrix<scalar_t> d_norm = this->state(layer_norm_ ? ptr<scalar_t>(d_norm_c_) : nullptr);
    const scalar_t *dh = d_new[0], *dc = d_new[1];
    if (layer_norm_) {  // the gradient reaching c through LN_c, which needs whole rows
      const Matrix<scalar_t> stats_c = buffer(4, s.t, 2), dc_norm = this->state(dc_norm_);
      for_each_row(batch_, H, [&](int64_t b) {
        lstm_norm_grad_row(gates.row(b) + 3 * H, tc.row(b), dh + b * H, d_norm.row(b), H);
        layer_norm_backward_row(d_norm.row(b), s.made[1] + b * H, stats_c.row(b), norm_c_.gain,
                                H, dc_norm.row(b));
      });
    }
    const auto row_fn = backward_row();
    for_each_row(batch_, 4 * H, [&](int64_t b) {
      const scalar_t* g = gates.row(b);
      scalar_t* d = da.row(b);
      const int64_t u = b * H;
      row_fn(g, g + H, g + 2 * H, g + 3 * H, tc.row(b), s.prev[1] + u, dh + u, dc + u,
             layer_norm_ ? dc_norm_ + u : nullptr, d_prev[1] + u, d, d + H, d + 2 * H, d + 3 * H,
             peep(0), peep(1), peep(2), H);
    });
    if (layer_norm_) {  // dh_in through LN_r
      const Matrix<scalar_t> raw = buffer(2, s.t, 4 * H), stats_r = buffer(3, s.t, 2);
      const Matrix<scalar_t> d_raw = this->block(ptr<scalar_t>(d_raw_), s.t, 4 * H, 4 * H);
      for_each_row(batch_, 4 * H, [&](int64_t b) {
        layer_norm_backward_row(da.row(b), raw.row(b), stats_r.row(b), norm_r_.gain, 4 * H,
                                d_raw.row(b));
      });
      backward_product_.accumulate(this->state(d_h_in), d_raw);
    } else {
      backward_product_.accumulate(this->state(d_h_in), da);
    }
    add_column_sums(parameter_sums(s, da, d_norm), batch_);
    if (norm_i_.gain != nullptr) {  // da through LN_i, in place: the projected input's gradient
      const scalar_t* xp = ptr<scalar_t>(xp_) + s.t * batch_ * 4 * H;
      const scalar_t* stats_i = buffer(5, s.t, 2).data;
      for_each_row(batch_, 4 * H, [&](int64_t b) {
        layer_norm_backward_row(da.row(b), xp + b * 4 * H, stats_i + 2 * b, norm_i_.gain, 4 * H,
                                da.row(b));
      });
    }
  }

  Grads finish(const Tensor& h_in_all, const std::vector<Tensor>&, const std::vector<Tensor>&,
               const std::vector<Tensor>&) override {
    return {d_gates_, {layer_norm_ ? d_raw_ : d_gates_, h_in_all}, parameter_grads_};
  }

 private:
  Matrix<scalar_t> buffer(size_t k, int64_t row, int64_t width) const {
    return this->block(ptr<scalar_t>(saved[k]), row, width, width);
  }

  const scalar_t* peep(int k) const {
    return peephole_ ? ptr<scalar_t>(parameters_[k]) : nullptr;
  }

  // This step's share of every per-unit parameter's gradient (weights' order): the peepholes
  // times the cell state they look at, the norms' gains times their normalised inputs, LN_c's
  // bias and the shift after LN_i.
  std::vector<ColumnSum<scalar_t>> parameter_sums(const Step<scalar_t>& s,
                                                  const Matrix<scalar_t>& da,
                                                  const Matrix<scalar_t>& d_norm) const {
    const int64_t H = hidden_, G = 4 * H;
    std::vector<ColumnSum<scalar_t>> sums;
    // each sum goes to the next parameter's gradient, in weights' order
    auto out = [&] { return ptr<scalar_t>(parameter_grads_[sums.size()]); };
    if (peephole_) {  // p_i and p_f look at c_prev, p_o at c
      sums.push_back({da.data, G, s.prev[1], H, nullptr, H, out()});
      sums.push_back({da.data + H, G, s.prev[1], H, nullptr, H, out()});
      sums.push_back({da.data + 3 * H, G, s.made[1], H, nullptr, H, out()});
    }
    if (layer_norm_) {
      sums.push_back({da.data, G, buffer(2, s.t, G).data, G, buffer(3, s.t, 2).data, G, out()});
      sums.push_back({d_norm.data, H, s.made[1], H, buffer(4, s.t, 2).data, H, out()});
      sums.push_back({d_norm.data, H, nullptr, 0, nullptr, H, out()});
    }
    if (norm_i_.gain != nullptr) {
      const scalar_t* xp = ptr<scalar_t>(xp_) + s.t * batch_ * G;
      sums.push_back({da.data, G, xp, G, buffer(5, s.t, 2).data, G, out()});
      sums.push_back({da.data, G, nullptr, 0, nullptr, G, out()});
    }
    return sums;
  }

  void allocate_backward() {
    d_gates_ = workspace(saved[0], saved[0].sizes());
    for (size_t k = 0; k < parameters_.size(); ++k) {
      parameter_grads_.push_back(torch::zeros_like(parameters_[k]));
    }
    if (layer_norm_) {
      d_raw_ = workspace(saved[0], saved[0].sizes());
      d_norm_c_ = workspace(saved[1], {batch_, hidden_});
      dc_norm_buffer_ = workspace(saved[1], {batch_, hidden_});
      dc_norm_ = ptr<scalar_t>(dc_norm_buffer_);
    }
    if (norm_i_.gain != nullptr) xp_ = saved.back().contiguous();
  }

  using ForwardRow = decltype(&lstm_forward_row<scalar_t, false, false, false>);
  using BackwardRow = decltype(&lstm_backward_row<scalar_t, false, false>);

  ForwardRow forward_row() const {
    const bool input_norm = norm_i_.gain != nullptr;
    if (peephole_) {
      if (!layer_norm_) return lstm_forward_row<scalar_t, true, false, false>;
      return input_norm ? lstm_forward_row<scalar_t, true, true, true>
                        : lstm_forward_row<scalar_t, true, true, false>;
    }
    if (!layer_norm_) return lstm_forward_row<scalar_t, false, false, false>;
    return input_norm ? lstm_forward_row<scalar_t, false, true, true>
                      : lstm_forward_row<scalar_t, false, true, false>;
  }

  BackwardRow backward_row() const {
    if (peephole_) {
      return layer_norm_ ? lstm_backward_row<scalar_t, true, true>
                         : lstm_backward_row<scalar_t, true, false>;
    }
    return layer_norm_ ? lstm_backward_row<scalar_t, false, true>
                       : lstm_backward_row<scalar_t, false, false>;
  }

  bool peephole_, layer_norm_, saving_;
  Product<scalar_t> forward_product_, backward_product_;  // h_in @ W_hh^T, d @ W_hh
  std::vector<Tensor> parameters_;                        // every weight but W_hh
  Norm<scalar_t> norm_r_{}, norm_c_{}, norm_i_{};  // norm_i_: LN_i where the loop applies it
  Tensor d_gates_;   // (T, B, 4H): da, the projected input's gradient (with LN_i, once finished)
  Tensor d_raw_;     // layer norm: (T, B, 4H), d(W_hh h_in) through LN_r
  Tensor d_norm_c_;  // layer norm: (B, H), this step's d LN_c(c)
  Tensor xp_;        // LN_i: (T, B, 4H), the projected input before it
  std::vector<Tensor> parameter_grads_;  // the gradients of parameters_, summed step by step
  Tensor scratch_;  // forward without layer norm: (B, 4H), W_hh h_in
  Tensor dc_norm_buffer_;
  scalar_t* dc_norm_ = nullptr;  // layer norm: (B, H), the gradient reaching c through LN_c
};

}  // namespace rnnkit
