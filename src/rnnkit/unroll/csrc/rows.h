// Helpers for the pointwise loops: each cell's maths is a plain loop over the H units of one row
// of the batch, written with __restrict pointers so that the compiler vectorises it (exp and tanh
// included, through glibc's libmvec under -ffast-math), and the rows of a step shared among
// PyTorch's threads when a step is large enough to pay for it.
#pragma once

#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <vector>

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

// One per-unit parameter's gradient, summed over the rows of a step:
//   out[j] += sum over rows r of d[r][j] * x[r][j]                      with x,
//             sum over rows r of d[r][j] * (x[r][j] - m_r) s_r          with x and stats (m, s),
//             sum over rows r of d[r][j]                                without x.
template <typename scalar_t>
struct ColumnSum {
  const scalar_t* d;
  int64_t d_ld;
  const scalar_t* x;
  int64_t x_ld;
  const scalar_t* stats;  // (mean, rstd) per row
  int64_t n;
  scalar_t* out;
};

// Every sum of a step in one parallel pass, while the step's rows are in cache. Threads split
// the columns of all the sums together, so no two write the same one.
template <typename scalar_t>
void add_column_sums(const std::vector<ColumnSum<scalar_t>>& sums, int64_t rows) {
  int64_t total = 0;
  for (const auto& s : sums) total += s.n;
  const int64_t grain = std::max<int64_t>(16, kUnitsPerTask / std::max<int64_t>(rows, 1));
  at::parallel_for(0, total, grain, [&](int64_t begin, int64_t end) {
    int64_t offset = 0;
    for (const auto& s : sums) {
      const int64_t lo = std::max<int64_t>(begin - offset, 0), hi = std::min(end - offset, s.n);
      offset += s.n;
      scalar_t* __restrict out = s.out;
      for (int64_t r = 0; r < rows && lo < hi; ++r) {
        const scalar_t* __restrict dr = s.d + r * s.d_ld;
        if (s.x == nullptr) {
          for (int64_t j = lo; j < hi; ++j) out[j] += dr[j];
          continue;
        }
        const scalar_t* __restrict xr = s.x + r * s.x_ld;
        const scalar_t mean = s.stats ? s.stats[2 * r] : scalar_t(0);
        const scalar_t scale = s.stats ? s.stats[2 * r + 1] : scalar_t(1);
        for (int64_t j = lo; j < hi; ++j) out[j] += dr[j] * (xr[j] - mean) * scale;
      }
    }
  });
}

}  // namespace rnnkit
