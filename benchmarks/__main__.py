"""``python -m benchmarks``: time every row at every shape, print the tables, write RESULTS.md.

Examples::

    python -m benchmarks                       # the three shapes of issue 3 -> RESULTS.md
    python -m benchmarks --quick               # a smoke run on a tiny shape, printed only
    python -m benchmarks --only "layer_norm" --shapes 64,100,256,256 --repeats 9
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from .measure import Case, gemm_peak_gflops, rss_peak_mb, tensor_peak_mb, time_cases
from .report import RESULTS, ShapeResults, document, write_results
from .variants import Shape, select

SHAPES: list[Shape] = [(64, 100, 256, 256), (32, 100, 128, 128), (16, 200, 64, 64)]
QUICK_SHAPE: Shape = (4, 10, 8, 8)


def _shape(text: str) -> Shape:
    try:
        batch, steps, inputs, hidden = (int(v) for v in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"a shape is B,T,I,H (four ints), got {text!r}") from err
    return batch, steps, inputs, hidden


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"one tiny shape {QUICK_SHAPE}, 1 round"
    )
    parser.add_argument("--shapes", nargs="+", type=_shape, help="B,T,I,H shapes to run")
    parser.add_argument("--only", nargs="+", help="rows whose name contains one of these words")
    parser.add_argument("--repeats", type=int, help="interleaved rounds per shape (default 5)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak memory column")
    parser.add_argument(
        "--out", type=Path, help=f"results file (default {RESULTS.name}; --quick: none)"
    )
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    args.shapes = args.shapes or ([QUICK_SHAPE] if args.quick else SHAPES)
    args.repeats = args.repeats or (1 if args.quick else 5)
    if args.out is None and not args.quick:
        args.out = RESULTS
    return args


def run_shape(shape: Shape, only, repeats: int, memory: bool) -> ShapeResults:
    variants = select(only)
    cases = [Case(v, shape) for v in variants]
    results = time_cases(cases, repeats)
    if memory:
        for case, result in zip(cases, results, strict=True):
            result.tensor_mb = tensor_peak_mb(case)
            result.rss_mb = rss_peak_mb(case)
    return ShapeResults(shape, {v.name: (v, r) for v, r in zip(variants, results, strict=True)})


def main(argv: list[str] | None = None) -> str:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", "-m", "benchmarks", *argv])
    gemm_peak = gemm_peak_gflops(size=256 if args.quick else 2048)
    by_shape = {}
    for shape in args.shapes:
        print(f"shape {shape} ...", file=sys.stderr, flush=True)
        by_shape[shape] = run_shape(shape, args.only, args.repeats, not args.no_memory)
    body = document(by_shape, command, gemm_peak, args.repeats)
    print(body)
    if args.out is not None:
        write_results(args.out, body)
    return body


if __name__ == "__main__":
    main()
