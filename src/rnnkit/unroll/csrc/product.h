// The per-step matrix products. Small products call BLAS directly on raw pointers: at the small
// shapes the loop is compiled for, ATen's per-call cost (a dispatch, a tensor view per operand)
// is several times the arithmetic. Large float32 products run on oneDNN's AVX-512 JIT, as the
// Python engine's do (unroll/pointwise/matmul.py); the caller passes that rule's threshold, so
// both engines share it.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/extension.h>

#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <type_traits>

#include "rows.h"

// BLAS as libtorch exports it (MKL in the x86 wheels). Weak: a build without these symbols still
// loads, and its products go through ATen (blas_linked).
extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc) __attribute__((weak));
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b,
            const int* ldb, const double* beta, double* c, const int* ldc) __attribute__((weak));
}

namespace rnnkit {

using torch::Tensor;

// A row-major block of memory: rows x cols, rows ld elements apart.
template <typename scalar_t>
struct Matrix {
  scalar_t* data;
  int64_t rows, cols, ld;

  scalar_t* row(int64_t b) const { return data + b * ld; }

  Tensor tensor() const {  // a view, for ATen
    return torch::from_blob(data, {rows, cols}, {ld, 1},
                            torch::TensorOptions().dtype(c10::CppTypeToScalarType<scalar_t>()));
  }
};

// Column-major gemm, C = alpha op(A) op(B) + beta C, on whichever BLAS routine fits scalar_t.
inline void gemm(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

inline void gemm(char ta, char tb, int m, int n, int k, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc) {
  dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

template <typename scalar_t>
bool blas_linked() {
  return std::is_same_v<scalar_t, float> ? sgemm_ != nullptr : dgemm_ != nullptr;
}

// Packed weights kept from call to call: in inference the same weights come back every call,
// and packing one costs a few steps' products (0.37 ms for 1024 x 256). An entry is reused only
// for a weight at the same address with the same bytes, compared in full (a version counter
// would miss writes through .data); comparing reads the weight once, about a seventh of the
// packing. A weight changed since (a training step) replaces its entry. At most kBytes are
// kept, the most recently used first.
class PackedWeights {
 public:
  template <typename F>
  Tensor find_or_make(const Tensor& weight, int64_t rows, const F& make) {
    const size_t bytes = weight.numel() * weight.element_size();
    if (!weight.is_contiguous() || 2 * bytes > kBytes) return make();
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto e = entries_.begin(); e != entries_.end(); ++e) {
      if (e->address == weight.data_ptr() && e->rows == rows &&
          e->plain.sizes() == weight.sizes() && e->plain.dtype() == weight.dtype()) {
        // the same weight, maybe updated since (training): one entry per weight either way
        if (std::memcmp(e->plain.data_ptr(), weight.data_ptr(), bytes) != 0) {
          e->plain.copy_(weight);
          e->packed = make();
        }
        entries_.splice(entries_.begin(), entries_, e);
        return entries_.front().packed;
      }
    }
    entries_.push_front({weight.data_ptr(), rows, weight.clone(), make()});
    held_ += 2 * bytes;
    while (held_ > kBytes) {
      const Tensor& plain = entries_.back().plain;
      held_ -= 2 * plain.numel() * plain.element_size();
      entries_.pop_back();
    }
    return entries_.front().packed;
  }

 private:
  static constexpr size_t kBytes = size_t(64) << 20;  // plain and packed copies together
  struct Entry {
    const void* address;
    int64_t rows;
    Tensor plain, packed;
  };
  std::mutex mutex_;
  std::list<Entry> entries_;
  size_t held_ = 0;
};

inline PackedWeights& packed_weights() {
  static PackedWeights cache;
  return cache;
}

// x @ weight^T for one weight (n x k, any strides) and a fixed number of rows, over a call.
template <typename scalar_t>
class Product {
 public:
  // onednn_from: the multiply-adds of one product from which oneDNN is used; 0 never.
  Product(const Tensor& weight, int64_t rows, int64_t onednn_from)
      : onednn_(onednn_from > 0 && weight.scalar_type() == at::kFloat &&
                rows * weight.numel() >= onednn_from),
        weight_(weight),
        rows_(rows),
        n_(weight.size(0)),
        k_(weight.size(1)) {}

  // out = add + x @ W^T. add: rows add_ld apart (0: one row for all, a bias), or null.
  void into(const Matrix<scalar_t>& out, const Matrix<scalar_t>& x, const scalar_t* add,
            int64_t add_ld) const {
    if (x.rows == 0) return;
    prepare();
    if (blas_) {  // BLAS accumulates into out, so add goes there first
      if (add != nullptr) {
        for_each_row(out.rows, n_, [&](int64_t b) {
          std::copy(add + b * add_ld, add + b * add_ld + n_, out.row(b));
        });
      }
      blas(out, x, add != nullptr);
      return;
    }
    // oneDNN (or ATen) writes a fresh product: one pass adds it to add, or copies it
    const Tensor product = fresh(x);
    const scalar_t* p = product.data_ptr<scalar_t>();
    for_each_row(out.rows, n_, [&](int64_t b) {
      sum_row(add != nullptr ? add + b * add_ld : nullptr, p + b * n_, out.row(b), n_);
    });
  }

  // x @ W^T, rows n apart: BLAS writes it into scratch (rows x n, contiguous) and returns
  // scratch; oneDNN returns its own buffer, valid until the next call.
  const scalar_t* compute(const Matrix<scalar_t>& x, scalar_t* scratch) const {
    if (x.rows == 0) return scratch;
    prepare();
    if (blas_) {
      blas({scratch, x.rows, n_, n_}, x, false);
      return scratch;
    }
    last_ = fresh(x);
    return last_.data_ptr<scalar_t>();
  }

  // dest += x @ W^T
  void accumulate(const Matrix<scalar_t>& dest, const Matrix<scalar_t>& x) const {
    if (x.rows == 0) return;
    prepare();
    if (blas_) {
      blas(dest, x, true);
      return;
    }
    const Tensor product = fresh(x);
    const scalar_t* p = product.data_ptr<scalar_t>();
    for_each_row(dest.rows, n_, [&](int64_t b) {
      sum_row(dest.row(b), p + b * n_, dest.row(b), n_);
    });
  }

 private:
  // The weight in the layout its backend reads, made at the first product: a cell holds the
  // products of both passes, and a call runs one pass (inference only the forward).
  void prepare() const {
    if (prepared_) return;
    prepared_ = true;
    if (onednn_) {
      weight_ = packed_for_onednn(weight_, rows_);
      return;
    }
    // BLAS is column-major: x @ W^T is, transposed, W (n x k) times x^T (k x rows). A row-major
    // W reads column-major as W^T, hence 'T'; a transposed view reads as W itself. Any other
    // layout is copied once.
    if (!blas_layout()) {
      weight_ = weight_.contiguous();
      blas_layout();
    }
    blas_ = blas_linked<scalar_t>();
  }

  // Reads the weight's layout as BLAS sees it; false if BLAS cannot read it as it is.
  bool blas_layout() const {
    // torch may give a dimension of size 1 any stride (W_hh^T of a 1-unit cell is (1, G) with
    // strides (1, 1)), and contiguous() keeps it: such a stride never steps, so read it as packed.
    const int64_t s0 = weight_.size(0) == 1 ? std::max<int64_t>(1, k_) : weight_.stride(0);
    const int64_t s1 = weight_.size(1) == 1 ? 1 : weight_.stride(1);
    row_major_ = s1 == 1;
    lda_ = row_major_ ? s0 : s1;
    const int64_t least = std::max<int64_t>(1, row_major_ ? k_ : n_);
    return (row_major_ || s0 == 1) && lda_ >= least;
  }

  void blas(const Matrix<scalar_t>& out, const Matrix<scalar_t>& x, bool add) const {
    gemm(row_major_ ? 'T' : 'N', 'N', n_, x.rows, k_, scalar_t(1), weight_.data_ptr<scalar_t>(),
         lda_, x.data, x.ld, add ? scalar_t(1) : scalar_t(0), out.data, out.ld);
  }

  // x @ W^T as a new contiguous (rows, n) tensor
  Tensor fresh(const Matrix<scalar_t>& x) const {
    return onednn_ ? onednn(x.tensor()) : at::mm(x.tensor(), weight_.t()).contiguous();
  }

  // out = a + b over n units; a null: a copy of b. out may be a (so a is not __restrict).
  static void sum_row(const scalar_t* a, const scalar_t* __restrict b, scalar_t* out, int64_t n) {
    if (a == nullptr) {
      std::copy(b, b + n, out);
      return;
    }
    for (int64_t j = 0; j < n; ++j) out[j] = a[j] + b[j];
  }

  // The weight in oneDNN's own blocked layout for this many rows, so that each step's call skips
  // reordering it (measured: 100 products (64x256)@(256x1024) on 2 threads, 12.5 ms -> 8.2 ms).
  // Builds without that operator keep the plain weight.
  static Tensor packed_for_onednn(const Tensor& weight, int64_t rows) {
    static const auto handle =
        c10::Dispatcher::singleton().findSchema({"mkldnn::_reorder_linear_weight", ""});
    if (!handle) return weight;
    return packed_weights().find_or_make(weight, rows, [&] {
      torch::jit::Stack stack{weight.contiguous(), c10::IValue(rows)};
      handle->callBoxed(&stack);
      return stack[0].toTensor();
    });
  }

  Tensor onednn(const Tensor& x) const {
    static const auto handle =
        c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
    torch::jit::Stack stack{x.contiguous(), weight_, c10::IValue(), std::string("none"),
                            c10::List<std::optional<c10::Scalar>>(), c10::IValue()};
    handle.callBoxed(&stack);
    return stack[0].toTensor();
  }

  bool onednn_;
  mutable bool prepared_ = false, blas_ = false, row_major_ = true;
  mutable Tensor weight_;
  mutable Tensor last_;  // compute's oneDNN product
  int64_t rows_, n_, k_;
  mutable int64_t lda_ = 0;
};

}  // namespace rnnkit
