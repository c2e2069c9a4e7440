// Layer normalisation of one row, forward and backward, for the layer-norm LSTM (lstm.h):
//   y = (x - mean) rstd gain + bias,  rstd = 1 / sqrt(var + eps)   (biased variance)
//   dx = rstd (dy' - mean(dy') - xhat mean(dy' xhat)),  dy' = dy gain,  xhat = (x - mean) rstd
#pragma once

#include <cmath>
#include <cstdint>

namespace rnnkit {

// stats = (mean, rstd) of the row x.
template <typename scalar_t>
void layer_norm_stats(const scalar_t* __restrict x, int64_t n, scalar_t eps,
                      scalar_t* __restrict stats) {
  scalar_t sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += x[j];
  const scalar_t mean = sum / scalar_t(n);
  scalar_t squares = 0;
  for (int64_t j = 0; j < n; ++j) squares += (x[j] - mean) * (x[j] - mean);
  stats[0] = mean;
  stats[1] = scalar_t(1) / std::sqrt(squares / scalar_t(n) + eps);
}

// y = LN(x); bias may be null. stats receives (mean, rstd).
template <typename scalar_t>
void layer_norm_row(const scalar_t* __restrict x, int64_t n, scalar_t eps,
                    const scalar_t* __restrict gain, const scalar_t* __restrict bias,
                    scalar_t* __restrict y, scalar_t* __restrict stats) {
  layer_norm_stats(x, n, eps, stats);
  const scalar_t mean = stats[0], rstd = stats[1];
  for (int64_t j = 0; j < n; ++j) {
    y[j] = (x[j] - mean) * rstd * gain[j] + (bias ? bias[j] : scalar_t(0));
  }
}

// dx from dy, for the row x whose statistics the forward kept. dx may be dy.
template <typename scalar_t>
void layer_norm_backward_row(const scalar_t* dy, const scalar_t* __restrict x,
                             const scalar_t* __restrict stats, const scalar_t* __restrict gain,
                             int64_t n, scalar_t* dx) {
  const scalar_t mean = stats[0], rstd = stats[1];
  scalar_t sum = 0, dot = 0;
  for (int64_t j = 0; j < n; ++j) {
    const scalar_t g = dy[j] * gain[j];
    sum += g;
    dot += g * (x[j] - mean) * rstd;
  }
  sum /= scalar_t(n);
  dot /= scalar_t(n);
  for (int64_t j = 0; j < n; ++j) {
    dx[j] = rstd * (dy[j] * gain[j] - sum - (x[j] - mean) * rstd * dot);
  }
}

}  // namespace rnnkit
