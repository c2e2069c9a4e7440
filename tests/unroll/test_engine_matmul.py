"""The engine's products (oneDNN for large float32 products on CPU, else ``mm``) equal torch's, on
both backends whatever this CPU prefers (the ``products`` fixture)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rnnkit.unroll.pointwise.matmul import MatMul, linear, onednn_products, stacked_matmul

# (rows, in, out): above and below the size from which oneDNN is used (2**21 multiply-adds with
# onednn_products(True))
SIZES = [(64, 256, 1024), (16, 64, 256)]
close = {"rtol": 1e-4, "atol": 1e-4}  # float32 sums of up to 6400 products, in another order


@pytest.mark.parametrize("size", SIZES)
def test_matmul_forms_equal_torch(size, products):
    rows, inputs, outputs = size
    x, w = torch.randn(rows, inputs), torch.randn(outputs, inputs) / inputs**0.5
    add, dest = torch.randn(rows, outputs), torch.randn(rows, outputs)
    product = MatMul(w, rows)
    assert product.onednn == (products == "onednn" and rows * inputs * outputs >= 2**21)
    torch.testing.assert_close(product(x), x @ w.T, **close)
    out = torch.empty(rows, outputs)
    torch.testing.assert_close(product.into(out, x, add), add + x @ w.T, **close)
    torch.testing.assert_close(out, add + x @ w.T, **close)
    torch.testing.assert_close(product.into(out, x), x @ w.T, **close)
    want = dest + x @ w.T
    torch.testing.assert_close(product.accumulate(dest, x), want, **close)


def test_stacked_matmul_is_a_sum_over_steps(products):
    # 3,200 rows of a (1024 x 256) gradient: on oneDNN, four blocks of rows, the last one partial
    d, inputs = torch.randn(50, 64, 1024), torch.randn(50, 64, 256)
    want = sum(d[t].T @ inputs[t] for t in range(50))
    torch.testing.assert_close(stacked_matmul(d, inputs), want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("size", SIZES)
def test_linear_values_and_gradients_equal_f_linear(size, products):
    rows, inputs, outputs = size
    x = torch.randn(4, rows // 4, inputs, requires_grad=True)
    w = (torch.randn(outputs, inputs) / inputs**0.5).requires_grad_()
    b = torch.randn(outputs, requires_grad=True)
    d_out = torch.randn(4, rows // 4, outputs)
    got = linear(x, w, b)
    want = F.linear(x, w, b)
    torch.testing.assert_close(got, want, **close)
    got_grads = torch.autograd.grad(got, (x, w, b), d_out)
    want_grads = torch.autograd.grad(want, (x, w, b), d_out)
    torch.testing.assert_close(got_grads, want_grads, rtol=1e-3, atol=1e-3)


def test_float64_never_uses_onednn():
    with onednn_products(True):
        assert not MatMul(torch.randn(1024, 1024, dtype=torch.float64), 64).onednn


def test_the_cpu_decides_unless_forced():
    """A (64 x 256) @ (256 x 256) product, 2**22 multiply-adds: oneDNN on an AVX-512 CPU, ``mm``
    on an AVX2 one; forcing either rule works on any CPU and ends with its block."""
    wide = "AVX512" in torch.backends.cpu.get_cpu_capability()
    usable = torch.backends.mkldnn.is_available()
    weight = torch.randn(256, 256)
    assert MatMul(weight, 64).onednn == (wide and usable)
    with onednn_products(True):
        assert MatMul(weight, 64).onednn == usable
        with onednn_products(False):
            assert not MatMul(torch.randn(1024, 1024), 64).onednn
    assert MatMul(weight, 64).onednn == (wide and usable)
