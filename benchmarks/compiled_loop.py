"""``python -m benchmarks.compiled_loop``: would a compiled time loop pay? (issue 3, item 5)

At small shapes the engine's cost is per-step overhead, not arithmetic: every step runs a dozen
tensor ops from Python, each paying dispatch, plus the loop's own bookkeeping. This experiment
compiles the whole time loop of one custom cell, the peephole LSTM, forward and backward
(``compiled_loop.cpp``: ATen for the per-step product, one plain C++ loop for the pointwise maths),
checks it against the engine (values and gradients), and times a training step and inference
against the engine and ``nn.LSTM``, interleaved in one process (DESIGN.md §3).

It needs a C++ compiler (``torch.utils.cpp_extension`` builds the file, ~30 s the first time, into
a cache directory) and prints its table; nothing in rnnkit depends on it.

Examples::

    python -m benchmarks.compiled_loop --threads 1
    python -m benchmarks.compiled_loop --threads 2 --shapes 16,200,64,64
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

import rnnkit as rk
from rnnkit.unroll.engine import engine_unroll
from rnnkit.unroll.pointwise import kernel_for

from .measure import Case, time_cases

SOURCE = Path(__file__).with_name("compiled_loop.cpp")
SHAPES = [(16, 200, 64, 64), (64, 100, 256, 256)]


def build():
    """The compiled module (``forward``, ``backward``), built once into a cache directory."""
    from torch.utils.cpp_extension import load

    build_dir = Path(tempfile.gettempdir()) / "rnnkit-compiled-loop"
    build_dir.mkdir(exist_ok=True)
    return load(
        name="rnnkit_compiled_loop",
        sources=[str(SOURCE)],
        extra_cflags=["-O3", "-march=native", "-ffast-math"],
        extra_ldflags=["-lmvec"],  # glibc's vectorised exp and tanh
        build_directory=str(build_dir),
        verbose=False,
    )


def compiled_peephole(native, cell, x):
    """The peephole LSTM ``cell`` over ``x`` (B, T, I) from zero state, on the compiled loop:
    the output sequence (B, T, H)."""
    xp = kernel_for(cell).project(cell, x.transpose(0, 1)).contiguous()
    batch = x.shape[0]
    zeros = x.new_zeros(batch, cell.hidden_size)
    peep = torch.stack([cell.peephole_i, cell.peephole_f, cell.peephole_o])
    out, _, _ = _CompiledLoop.apply(native, xp, zeros, zeros, cell.weight_hh, peep)
    return out.transpose(0, 1)


class _CompiledLoop(torch.autograd.Function):
    @staticmethod
    def forward(ctx, native, xp, h0, c0, w_hh, peep):
        h, c, gates, tanh_c = native.forward(xp, h0, c0, w_hh.contiguous(), peep.contiguous())
        ctx.native = native
        ctx.save_for_backward(h, c, gates, tanh_c, w_hh, peep)
        return h[1:], h[-1], c[-1]

    @staticmethod
    def backward(ctx, d_out, d_h, d_c):
        h, c, gates, tanh_c, w_hh, peep = ctx.saved_tensors
        zeros = torch.zeros_like(h[0])
        d_out = torch.zeros_like(h[1:]) if d_out is None else d_out.contiguous()
        d_h = zeros if d_h is None else d_h.contiguous()
        d_c = zeros if d_c is None else d_c.contiguous()
        d_xp, d_h0, d_c0, d_w, d_peep = ctx.native.backward(
            d_out, d_h, d_c, h, c, gates, tanh_c, w_hh.contiguous(), peep.contiguous()
        )
        return None, d_xp, d_h0, d_c0, d_w, d_peep


def check_against_engine(native, shape=(3, 11, 8, 16)) -> float:
    """The largest relative difference of outputs and gradients, compiled loop vs engine."""
    batch, steps, inputs, hidden = shape
    torch.manual_seed(0)
    cell = rk.LSTMCell(inputs, hidden, peephole=True)
    x = torch.randn(batch, steps, inputs, requires_grad=True)
    weight = torch.randn(batch, steps, hidden)
    results = []
    for run in (lambda: engine_unroll(cell, x)[0], lambda: compiled_peephole(native, cell, x)):
        cell.zero_grad()
        x.grad = None
        out = run()
        (out * weight).sum().backward()
        results.append([out.detach(), x.grad.clone()] + [p.grad.clone() for p in cell.parameters()])
    return max(
        float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))
        for a, b in zip(*results, strict=True)
    )


class _Row:
    """A ``Case`` for ``time_cases``: a module and the function that runs it."""

    def __init__(self, name, module, run, x):
        self.name, self.module, self.run, self.x = name, module, run, x

    train_step = Case.train_step
    infer = Case.infer

    @property
    def variant(self):
        return self  # Case's methods call self.variant.run(module, x)


def rows(native, shape):
    batch, steps, inputs, hidden = shape
    torch.manual_seed(0)
    x = torch.randn(batch, steps, inputs)
    reference = nn.LSTM(inputs, hidden, batch_first=True)
    engine = rk.Recurrent("lstm", inputs, hidden, peephole=True)
    cell = engine.cells[0]
    return [
        _Row("torch nn.LSTM", reference, lambda m, x: m(x)[0], x),
        _Row("rk LSTM peephole, engine", engine, lambda m, x: m(x)[0], x),
        _Row(
            "rk LSTM peephole, compiled loop",
            engine,
            lambda m, x: compiled_peephole(native, cell, x),
            x,
        ),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compiled_loop")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--shapes", help="B,T,I,H[;B,T,I,H] (default: the two issue shapes)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shapes = SHAPES
    if args.shapes:
        shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
    native = build()
    for shape in ((3, 11, 8, 16), (64, 6, 256, 256)):  # products on mm, then on oneDNN
        difference = check_against_engine(native, shape)
        print(f"{shape}: compiled loop vs engine, largest relative difference {difference:.1e}")
    print(f"threads: {args.threads}; median of {args.repeats} interleaved samples")
    for shape in shapes:
        cases = rows(native, shape)
        results = time_cases(cases, args.repeats)
        base = results[0]
        print(f"\n(B, T, I, H) = {shape}")
        print("| row | train ms | infer ms | train / nn.LSTM | infer / nn.LSTM |")
        print("|---|---:|---:|---:|---:|")
        for case, r in zip(cases, results, strict=True):
            print(
                f"| {case.name} | {r.train_s * 1e3:.1f} | {r.infer_s * 1e3:.1f} | "
                f"{r.train_s / base.train_s:.2f} | {r.infer_s / base.infer_s:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
