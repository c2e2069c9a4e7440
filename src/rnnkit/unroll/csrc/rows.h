// Helpers for the pointwise loops: each cell's maths is a plain loop over the H units of one row
// of the batch, written with __restrict pointers so that the compiler vectorises it (exp and tanh
// included, through glibc's libmvec under -ffast-math), and the rows of a step shared among
// PyTorch's threads when a step is large enough to pay for it.
#pragma once

#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cmath>

namespace rnnkit {

template <typename scalar_t>
inline scalar_t sigmoid(scalar_t x) {
  return scalar_t(1) / (scalar_t(1) + std::exp(-x));
}

template <typename scalar_t>
inline scalar_t* ptr(const torch::Tensor& t) {
  return t.data_ptr<scalar_t>();
}

// Units of work (row width times rows) below which a step's rows stay on one thread: a thread
// hand-off costs a few microseconds, the maths of 8192 units about as much.
constexpr int64_t kUnitsPerTask = 8192;

// body(b) for every row b of a step.
template <typename F>
void for_each_row(int64_t rows, int64_t width, const F& body) {
  const int64_t grain = std::max<int64_t>(1, kUnitsPerTask / std::max<int64_t>(width, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) body(b);
  });
}

// u = tanh(u) in place, then h = u + keep (h_prev - u) = (1 - keep) u + keep h_prev: the update of
// the GRU (keep = z) and of leaky units (keep = the rate).
template <typename scalar_t>
void tanh_and_keep_row(scalar_t* __restrict u, const scalar_t* __restrict keep,
                       const scalar_t* __restrict h_prev, scalar_t* __restrict h_new, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const scalar_t v = std::tanh(u[j]);
    u[j] = v;
    h_new[j] = v + keep[j] * (h_prev[j] - v);
  }
}

// The gradient of a per-unit parameter, summed over all rows of all steps without a temporary:
//   out[j] = sum over r of d[r][j] * x[r][j]                with x,
//            sum over r of d[r][j] * (x[r][j] - m_r) s_r    with x and stats (m_r, s_r) per row,
//            sum over r of d[r][j]                          without x.
// Threads split the columns, each summing every row of its own, so no two write the same sum.
template <typename scalar_t>
void column_sums(const scalar_t* d, int64_t d_ld, const scalar_t* x, int64_t x_ld,
                 const scalar_t* stats, int64_t rows, int64_t n, scalar_t* out) {
  const int64_t grain = std::max<int64_t>(16, kUnitsPerTask / std::max<int64_t>(rows, 1));
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    std::fill(out + begin, out + end, scalar_t(0));
    for (int64_t r = 0; r < rows; ++r) {
      const scalar_t* __restrict dr = d + r * d_ld;
      scalar_t* __restrict o = out;
      if (x == nullptr) {
        for (int64_t j = begin; j < end; ++j) o[j] += dr[j];
        continue;
      }
      const scalar_t* __restrict xr = x + r * x_ld;
      const scalar_t mean = stats ? stats[2 * r] : scalar_t(0);
      const scalar_t scale = stats ? stats[2 * r + 1] : scalar_t(1);
      for (int64_t j = begin; j < end; ++j) o[j] += dr[j] * (xr[j] - mean) * scale;
    }
  });
}

}  // namespace rnnkit
