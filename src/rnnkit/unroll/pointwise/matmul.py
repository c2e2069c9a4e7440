"""The engine's matrix products, on the fastest CPU backend for their size and CPU.

PyTorch's float32 ``mm`` runs MKL, which on AMD CPUs takes its AVX2 code (about 65 GFLOP/s a core
here), while oneDNN's JIT kernels use AVX-512 where the CPU has it (about 130 on the AVX-512 host
of this project's benchmarks). That is most of the gap between a per-step loop and ``nn.LSTM``,
which runs on oneDNN. oneDNN's call costs about 10 us more, so small products keep ``mm``. The
rule differs on the two kinds of host measured (benchmarks/RESULTS.md and RESULTS-avx2.md):

* with AVX-512, products from 2**21 multiply-adds go to oneDNN (one thread: (64x256)@(256x1024)
  497 us with mm, 259 with oneDNN; (32x128)@(128x512) 61 vs 52; (16x64)@(64x256) 8 vs 17), and
  so do large weight gradients;
* with AVX2 only, both run AVX2 code and oneDNN gains only from its packed weight, which costs a
  reorder of about 0.4 ms per call (training changes the weight every call): from 2**24
  multiply-adds (2 threads, packed: (64x256)@(256x256) 74 us with mm, 113 with oneDNN;
  (128x128)@(128x512) 204 vs 230; (64x256)@(256x1024) 310 vs 252; (256x256)@(256x1024) 1531 vs
  1034); the ``small`` transliteration model, whose decoder makes the (128x128)@(128x512)
  product, trains a step in 43.9 ms with oneDNN from 2**23 and 39.8 on ``mm``. A weight
  gradient, for which oneDNN needs transposed copies of both operands, is twice as fast on ``mm``
  (768x256 from 6400 rows: 14.9 vs 28.2 ms).

float64, GPU tensors and builds without oneDNN always use ``mm``.
"""

from __future__ import annotations

import contextlib
import functools

import torch
from torch import Tensor

# multiply-adds of one product from which oneDNN is faster, with and without AVX-512 (above)
_ONEDNN_FROM_MACS_AVX512, _ONEDNN_FROM_MACS_AVX2 = 2**21, 2**24
_linear = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
_forced: bool | None = None  # set by onednn_products(); None: the CPU decides


@functools.cache
def _cpu_has_avx512() -> bool:
    return "AVX512" in torch.backends.cpu.get_cpu_capability()


def _onednn_is_wider() -> bool:
    """Whether oneDNN runs wider vectors than ``mm`` here (see above), unless a test forces it."""
    return _cpu_has_avx512() if _forced is None else _forced


def onednn_from_macs() -> int:
    """The multiply-adds of one float32 CPU product from which it runs on oneDNN; 0 when none
    does. The compiled loop (``unroll/compiled.py``) applies the same rule."""
    if _linear is None or not torch.backends.mkldnn.is_available() or _forced is False:
        return 0
    return _ONEDNN_FROM_MACS_AVX512 if _onednn_is_wider() else _ONEDNN_FROM_MACS_AVX2


@contextlib.contextmanager
def onednn_products(enabled: bool):
    """Within this block the products follow the AVX-512 rule (``True``: large products and
    weight gradients on oneDNN) or never use oneDNN (``False``), whatever the CPU: so the tests
    cover both backends on any machine, and benchmarks compare them."""
    global _forced
    before, _forced = _forced, enabled
    try:
        yield
    finally:
        _forced = before


def _onednn_fits(weight: Tensor, rows: int) -> bool:
    threshold = onednn_from_macs()
    return (
        threshold > 0
        and weight.device.type == "cpu"
        and weight.dtype == torch.float32
        and rows * weight.numel() >= threshold
    )


class MatMul:
    """``x @ weight.T`` for one weight and a fixed number of rows, over a whole engine call."""

    def __init__(self, weight: Tensor, rows: int) -> None:
        self.onednn = _onednn_fits(weight, rows)
        self.weight = weight.contiguous() if self.onednn else weight

    def __call__(self, x: Tensor, bias: Tensor | None = None) -> Tensor:
        """``x @ weight.T (+ bias)``; the bias is added inside the product, not in a pass of its
        own over the result."""
        if self.onednn:
            return _linear(x.contiguous(), self.weight, bias, "none", [], "")
        return x @ self.weight.T if bias is None else torch.addmm(bias, x, self.weight.T)

    def into(self, out: Tensor, x: Tensor, add: Tensor | None = None) -> Tensor:
        """``out = add + x @ weight.T`` (``add`` broadcasts, e.g. a bias)."""
        if self.onednn:
            return torch.add(add, self(x), out=out) if add is not None else out.copy_(self(x))
        if add is None:
            return torch.mm(x, self.weight.T, out=out)
        return torch.addmm(add, x, self.weight.T, out=out)

    def accumulate(self, dest: Tensor, x: Tensor) -> Tensor:
        """``dest += x @ weight.T``."""
        if self.onednn:
            return dest.add_(self(x))
        return dest.addmm_(x, self.weight.T)


# On an AVX-512 CPU a weight gradient goes to oneDNN from this many entries: oneDNN needs both
# operands transposed and copied, which pays only for a large gradient (measured, one thread,
# busy machine, ms oneDNN+copies vs mm: 1024x256 from 6400 rows 32 vs 58, 768x256 17 vs 24;
# 512x128 from 6400 rows 10.4 vs 9.1, 256x64 from 3200 rows 1.8 vs 1.1).
_ONEDNN_GRAD_FROM = 2**17
# The transposed copies oneDNN needs are made a block of rows at a time, each block's copy of
# ``d`` at most this many elements (4 MiB in float32): a whole (T * B, 4H) copy would be the
# largest buffer of the backward, and blocks of >= 1024 rows still run at full GEMM speed.
_TRANSPOSED_BLOCK = 2**20


def stacked_matmul(d: Tensor, inputs: Tensor) -> Tensor:
    """``sum_t d_t^T @ inputs_t`` as GEMMs over the stacked ``(T * B)`` rows (a weight grad):
    one ``mm``, or on oneDNN one GEMM per block of rows."""
    d, inputs = d.reshape(-1, d.shape[-1]), inputs.reshape(-1, inputs.shape[-1])
    large = d.shape[1] * inputs.shape[1] >= _ONEDNN_GRAD_FROM
    if not (large and _onednn_is_wider() and _onednn_fits(d, inputs.shape[1])):
        return d.T @ inputs
    # oneDNN wants (out, k) x (n, k): both operands transposed, copied block by block
    block = max(1024, _TRANSPOSED_BLOCK // d.shape[1])
    total = None
    for start in range(0, d.shape[0], block):
        rows = slice(start, start + block)
        part = _linear(d[rows].T.contiguous(), inputs[rows].T.contiguous(), None, "none", [], "")
        total = part if total is None else total.add_(part)
    return total


class _Linear(torch.autograd.Function):
    """``x @ weight.T + bias`` with every product on :class:`MatMul`'s backend choice."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        rows = x.reshape(-1, x.shape[-1])
        out = MatMul(weight, rows.shape[0])(rows, bias)
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, d_out: Tensor):
        x, weight = ctx.saved_tensors
        d_rows = d_out.reshape(-1, d_out.shape[-1])
        d_x = d_weight = d_bias = None
        if ctx.needs_input_grad[0]:
            d_x = MatMul(weight.T, d_rows.shape[0])(d_rows).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            d_weight = stacked_matmul(d_rows, x)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            d_bias = d_rows.sum(0)
        return d_x, d_weight, d_bias


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear`` whose products run on oneDNN where that is faster (float32 CPU, large)."""
    if _onednn_fits(weight, x.numel() // x.shape[-1]):
        return _Linear.apply(x, weight, bias)
    return torch.nn.functional.linear(x, weight, bias)
