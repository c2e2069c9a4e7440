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

}  // namespace rnnkit
