// The per-step matrix products. Small products call BLAS directly on raw pointers: at the small
// shapes the loop is compiled for, ATen's per-call cost (a dispatch, a tensor view per operand)
// is several times the arithmetic. Large float32 products run on oneDNN's AVX-512 JIT, as the
// Python engine's do (unroll/pointwise/matmul.py); the caller passes that rule's threshold, so
// both engines share it.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/extension.h>

#include <string>

// BLAS as libtorch exports it (MKL in the x86 wheels). Weak: a build without these symbols still
// loads, and its products go through ATen.
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
inline bool gemm(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  if (sgemm_ == nullptr) return false;
  sgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
  return true;
}

inline bool gemm(char ta, char tb, int m, int n, int k, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc) {
  if (dgemm_ == nullptr) return false;
  dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
  return true;
}

// x @ weight^T for one weight (n x k, any strides) and a fixed number of rows, over a call.
template <typename scalar_t>
class Product {
 public:
  // onednn_from: the multiply-adds of one product from which oneDNN is used; 0 never.
  Product(const Tensor& weight, int64_t rows, int64_t onednn_from)
      : onednn_(onednn_from > 0 && weight.scalar_type() == at::kFloat &&
                rows * weight.numel() >= onednn_from),
        weight_(onednn_ ? weight.contiguous() : weight),
        n_(weight.size(0)),
        k_(weight.size(1)) {
    // BLAS is column-major: x @ W^T is, transposed, W (n x k) times x^T (k x rows). A row-major
    // W reads column-major as W^T, hence 'T'; a transposed view reads as W itself. Any other
    // layout is copied once.
    if (!blas_layout()) weight_ = weight_.contiguous();
    if (onednn_) weight_ = packed_for_onednn(weight_, rows);
  }

  // out = add + x @ W^T. add: rows add_ld apart (0: one row for all, a bias), or null.
  void into(const Matrix<scalar_t>& out, const Matrix<scalar_t>& x, const scalar_t* add,
            int64_t add_ld) const {
    if (add != nullptr) {
      for (int64_t b = 0; b < out.rows; ++b) {
        std::copy(add + b * add_ld, add + b * add_ld + n_, out.row(b));
      }
    }
    multiply(out, x, add != nullptr);
  }

  // dest += x @ W^T
  void accumulate(const Matrix<scalar_t>& dest, const Matrix<scalar_t>& x) const {
    multiply(dest, x, true);
  }

 private:
  bool blas_layout() {
    row_major_ = weight_.stride(1) == 1;
    lda_ = row_major_ ? weight_.stride(0) : weight_.stride(1);
    const int64_t least = std::max<int64_t>(1, row_major_ ? k_ : n_);
    return (row_major_ || weight_.stride(0) == 1) && lda_ >= least;
  }

  void multiply(const Matrix<scalar_t>& out, const Matrix<scalar_t>& x, bool add) const {
    if (x.rows == 0) return;
    if (!onednn_ && gemm(row_major_ ? 'T' : 'N', 'N', n_, x.rows, k_, scalar_t(1),
                         weight_.data_ptr<scalar_t>(), lda_, x.data, x.ld,
                         add ? scalar_t(1) : scalar_t(0), out.data, out.ld)) {
      return;
    }
    const Tensor product = onednn_ ? onednn(x.tensor()) : at::mm(x.tensor(), weight_.t());
    Tensor target = out.tensor();
    add ? target.add_(product) : target.copy_(product);
  }

  // The weight in oneDNN's own blocked layout for this many rows, so that each step's call skips
  // reordering it (measured: 100 products (64x256)@(256x1024) on 2 threads, 12.5 ms -> 8.2 ms).
  // Builds without that operator keep the plain weight.
  static Tensor packed_for_onednn(const Tensor& weight, int64_t rows) {
    static const auto handle =
        c10::Dispatcher::singleton().findSchema({"mkldnn::_reorder_linear_weight", ""});
    if (!handle) return weight;
    torch::jit::Stack stack{weight, c10::IValue(rows)};
    handle->callBoxed(&stack);
    return stack[0].toTensor();
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
  Tensor weight_;
  int64_t n_, k_, lda_;
  bool row_major_;
};

}  // namespace rnnkit
