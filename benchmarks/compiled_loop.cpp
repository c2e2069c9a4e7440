// The experiment of benchmarks/compiled_loop.py: the engine's time loop for one cell (the
// peephole LSTM) compiled, to measure what Python's per-step overhead costs at small shapes.
//
// Same recipe as rnnkit's engine (unroll/engine.py, unroll/pointwise/lstm.py): the caller projects
// the inputs of all steps in one GEMM; per step one product h @ W_hh^T (ATen, MKL/oneDNN) and the
// cell's pointwise maths, here one plain loop over the B x H units instead of a dozen tensor ops;
// the products on the same backends as the engine's (oneDNN when large, else MKL);
// backward one product per step for dh and W_hh's gradient as one GEMM after the loop.
// float32, contiguous CPU tensors, no lengths, no options: a measurement, not a library path.

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/extension.h>

#include <cmath>
#include <string>
#include <vector>

using torch::Tensor;

namespace {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// One row of the batch, forward. The gate slices a_i .. a_o hold the pre-activations and receive
// the activations. __restrict (the slices never overlap) lets the compiler vectorise the loop,
// exp and tanh included (glibc's libmvec, with -ffast-math).
void forward_row(float* __restrict a_i, float* __restrict a_f, float* __restrict a_g,
                 float* __restrict a_o, const float* __restrict c_prev, float* __restrict c_new,
                 float* __restrict tanh_c, float* __restrict h_new, const float* __restrict p_i,
                 const float* __restrict p_f, const float* __restrict p_o, int64_t hidden) {
  for (int64_t j = 0; j < hidden; ++j) {
    const float cp = c_prev[j];
    const float i = sigmoid(a_i[j] + p_i[j] * cp);
    const float f = sigmoid(a_f[j] + p_f[j] * cp);
    const float g = std::tanh(a_g[j]);
    const float c = f * cp + i * g;
    const float o = sigmoid(a_o[j] + p_o[j] * c);
    const float tc = std::tanh(c);
    a_i[j] = i;
    a_f[j] = f;
    a_g[j] = g;
    a_o[j] = o;
    c_new[j] = c;
    tanh_c[j] = tc;
    h_new[j] = o * tc;
  }
}

// One row of the batch, backward: the gates' pre-activation gradients, the gradient of c_prev
// (written over dc) and the peephole weights' gradients.
void backward_row(const float* __restrict i_, const float* __restrict f_,
                  const float* __restrict g_, const float* __restrict o_,
                  const float* __restrict tanh_c, const float* __restrict c_prev,
                  const float* __restrict c_new, const float* __restrict dh,
                  float* __restrict dc, float* __restrict da_i, float* __restrict da_f,
                  float* __restrict da_g, float* __restrict da_o, const float* __restrict p_i,
                  const float* __restrict p_f, const float* __restrict p_o,
                  float* __restrict gp_i, float* __restrict gp_f, float* __restrict gp_o,
                  int64_t hidden) {
  for (int64_t j = 0; j < hidden; ++j) {
    const float i = i_[j], f = f_[j], g = g_[j], o = o_[j], tc = tanh_c[j];
    const float d_o = dh[j] * tc * o * (1.0f - o);
    const float dcc = dc[j] + dh[j] * o * (1.0f - tc * tc) + p_o[j] * d_o;
    const float d_i = dcc * g * i * (1.0f - i);
    const float d_f = dcc * c_prev[j] * f * (1.0f - f);
    da_i[j] = d_i;
    da_f[j] = d_f;
    da_g[j] = dcc * i * (1.0f - g * g);
    da_o[j] = d_o;
    dc[j] = dcc * f + p_i[j] * d_i + p_f[j] * d_f;
    gp_i[j] += d_i * c_prev[j];
    gp_f[j] += d_f * c_prev[j];
    gp_o[j] += d_o * c_new[j];
  }
}

// x @ weight^T for one weight over a whole call, on the backend rnnkit's MatMul would pick:
// oneDNN (AVX-512 JIT) from 2^21 multiply-adds a product, else ATen's mm (MKL).
class Product {
 public:
  Product(const Tensor& weight, int64_t rows)
      : weight_(weight.contiguous()), onednn_(rows * weight.numel() >= (int64_t{1} << 21)) {}

  // out = add + x @ weight^T  (add may be undefined)
  void into(Tensor& out, const Tensor& x, const Tensor& add) const {
    if (!onednn_) {
      add.defined() ? at::addmm_out(out, add, x, weight_.t()) : at::mm_out(out, x, weight_.t());
      return;
    }
    const Tensor product = onednn(x);
    add.defined() ? at::add_out(out, add, product) : out.copy_(product);
  }

 private:
  Tensor onednn(const Tensor& x) const {
    static const auto handle =
        c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
    torch::jit::Stack stack{x.contiguous(), weight_, c10::IValue(), std::string("none"),
                            c10::List<std::optional<c10::Scalar>>(), c10::IValue()};
    handle.callBoxed(&stack);
    return stack[0].toTensor();
  }

  Tensor weight_;
  bool onednn_;
};

}  // namespace

// xp (T, B, 4H) = W_ih x + biases; h0, c0 (B, H); w_hh (4H, H); peep (3, H) = p_i, p_f, p_o.
// Returns h (T+1, B, H) and c (T+1, B, H) with the initial state in row 0, and the activated
// gates (T, B, 4H) and tanh(c) (T, B, H) that the backward needs.
std::vector<Tensor> forward(Tensor xp, Tensor h0, Tensor c0, Tensor w_hh, Tensor peep) {
  const int64_t steps = xp.size(0), batch = xp.size(1), hidden = w_hh.size(1);
  const int64_t gates_width = 4 * hidden;
  auto h = torch::empty({steps + 1, batch, hidden}, xp.options());
  auto c = torch::empty({steps + 1, batch, hidden}, xp.options());
  auto gates = torch::empty({steps, batch, gates_width}, xp.options());
  auto tanh_c = torch::empty({steps, batch, hidden}, xp.options());
  h[0].copy_(h0);
  c[0].copy_(c0);
  const Product recurrent(w_hh, batch);
  const float* p_i = peep.data_ptr<float>();
  const float* p_f = p_i + hidden;
  const float* p_o = p_f + hidden;
  for (int64_t t = 0; t < steps; ++t) {
    Tensor a = gates[t];
    recurrent.into(a, h[t], xp[t]);
    float* ap = a.data_ptr<float>();
    const float* c_prev = c.data_ptr<float>() + t * batch * hidden;
    float* c_new = c.data_ptr<float>() + (t + 1) * batch * hidden;
    float* h_new = h.data_ptr<float>() + (t + 1) * batch * hidden;
    float* tc = tanh_c.data_ptr<float>() + t * batch * hidden;
    for (int64_t b = 0; b < batch; ++b) {
      float* row = ap + b * gates_width;
      const int64_t u = b * hidden;
      forward_row(row, row + hidden, row + 2 * hidden, row + 3 * hidden, c_prev + u, c_new + u,
                  tc + u, h_new + u, p_i, p_f, p_o, hidden);
    }
  }
  return {h, c, gates, tanh_c};
}

// d_out (T, B, H): the gradient of every output h_1..h_T; d_hT, d_cT (B, H) of the final state.
// Returns d_xp (T, B, 4H), d_h0, d_c0, d_w_hh (4H, H), d_peep (3, H).
std::vector<Tensor> backward(Tensor d_out, Tensor d_hT, Tensor d_cT, Tensor h, Tensor c,
                             Tensor gates, Tensor tanh_c, Tensor w_hh, Tensor peep) {
  const int64_t steps = gates.size(0), batch = gates.size(1), hidden = w_hh.size(1);
  const int64_t gates_width = 4 * hidden;
  auto da = torch::empty_like(gates);
  Tensor dh = d_hT + d_out[steps - 1];
  Tensor dc = d_cT.clone();
  auto d_peep = torch::zeros({3, hidden}, peep.options());
  const float* p_i = peep.data_ptr<float>();
  const float* p_f = p_i + hidden;
  const float* p_o = p_f + hidden;
  float* g_i = d_peep.data_ptr<float>();
  float* g_f = g_i + hidden;
  float* g_o = g_f + hidden;
  float* dcp = dc.data_ptr<float>();
  const Product back(w_hh.t(), batch);  // da @ W_hh
  for (int64_t t = steps - 1; t >= 0; --t) {
    const float* gp = gates.data_ptr<float>() + t * batch * gates_width;
    const float* tc = tanh_c.data_ptr<float>() + t * batch * hidden;
    const float* c_prev = c.data_ptr<float>() + t * batch * hidden;
    const float* c_new = c.data_ptr<float>() + (t + 1) * batch * hidden;
    float* dap = da.data_ptr<float>() + t * batch * gates_width;
    const float* dhp = dh.data_ptr<float>();
    for (int64_t b = 0; b < batch; ++b) {
      const float* row = gp + b * gates_width;
      float* drow = dap + b * gates_width;
      const int64_t u = b * hidden;
      backward_row(row, row + hidden, row + 2 * hidden, row + 3 * hidden, tc + u, c_prev + u,
                   c_new + u, dhp + u, dcp + u, drow, drow + hidden, drow + 2 * hidden,
                   drow + 3 * hidden, p_i, p_f, p_o, g_i, g_f, g_o, hidden);
    }
    // the gradient of h_prev: through the recurrent product, plus what its output received
    back.into(dh, da[t], t > 0 ? d_out[t - 1] : Tensor());
  }
  const Tensor d_w = at::mm(da.view({steps * batch, gates_width}).t(),
                            h.narrow(0, 0, steps).reshape({steps * batch, hidden}));
  return {da, dh, dc, d_w, d_peep};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "peephole LSTM over all steps");
  m.def("backward", &backward, "its backward through time");
}
