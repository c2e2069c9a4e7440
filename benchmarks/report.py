"""The benchmark's output: one markdown table per shape, the targets, and RESULTS.md."""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from .measure import Result
from .variants import Shape, Variant

BASELINE = "torch nn.LSTM"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass
class ShapeResults:
    shape: Shape
    rows: dict[str, tuple[Variant, Result]]

    def result(self, name: str) -> Result | None:
        row = self.rows.get(name)
        return None if row is None else row[1]

    def loop_of(self, name: str) -> Result | None:
        for variant, result in self.rows.values():
            if variant.loop_of == name:
                return result
        return None


def _ratio(a: float | None, b: float | None) -> str:
    return "" if a is None or b is None or not b else f"{a / b:.2f}"


def _mib(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def table(results: ShapeResults, gemm_peak: float) -> str:
    """The table of one shape. Ratios: this row / nn.LSTM (lower is faster) and loop / this row
    (the speed-up over its Python loop). GFLOP/s of the training step, against the GEMM peak.
    Memory of a training step two ways: tensors alive at once, and resident memory."""
    base = results.result(BASELINE)
    lines = [
        "| row | train ms | infer ms | train / nn.LSTM | infer / nn.LSTM | loop / row train "
        "| loop / row infer | train GFLOP/s (% peak) | tensor MiB | / nn.LSTM | RSS MiB "
        "| / nn.LSTM |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (variant, r) in results.rows.items():
        loop = results.loop_of(name)
        loop_train, loop_infer = (None, None) if loop is None else (loop.train_s, loop.infer_s)
        gflops = 3 * variant.flops(results.shape) / r.train_s / 1e9  # backward: 2x the forward
        lines.append(
            f"| {name} | {r.train_s * 1e3:.1f} | {r.infer_s * 1e3:.1f} "
            f"| {_ratio(r.train_s, base.train_s)} | {_ratio(r.infer_s, base.infer_s)} "
            f"| {_ratio(loop_train, r.train_s)} | {_ratio(loop_infer, r.infer_s)} "
            f"| {gflops:.1f} ({100 * gflops / gemm_peak:.0f}%) "
            f"| {_mib(r.tensor_mb)} | {_ratio(r.tensor_mb, base.tensor_mb)} "
            f"| {_mib(r.rss_mb)} | {_ratio(r.rss_mb, base.rss_mb)} |"
        )
    return "\n".join(lines)


# -- targets (issue 3) ----------------------------------------------------------------------------
@dataclass
class Target:
    text: str
    value: float | None
    limit: float
    at_least: bool = False  # a speed-up that must reach the limit, not a ratio to stay under

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def line(self) -> str:
        verdict = {None: "not measured", True: "met", False: "MISSED"}[self.met]
        sign = ">=" if self.at_least else "<="
        value = "-" if self.value is None else f"{self.value:.2f}"
        return f"| {self.text} | {value} | {sign} {self.limit:.2f} | {verdict} |"


def _train_ratio(res: ShapeResults, name: str, base: str = BASELINE) -> float | None:
    a, b = res.result(name), res.result(base)
    return None if a is None or b is None else a.train_s / b.train_s


def _loop_speedup(res: ShapeResults, name: str) -> float | None:
    a, loop = res.result(name), res.loop_of(name)
    return None if a is None or loop is None else loop.train_s / a.train_s


def targets(by_shape: dict[Shape, ShapeResults]) -> list[Target]:
    """The issue's targets that the measured shapes allow to check."""
    out = []
    big = by_shape.get((64, 100, 256, 256))
    if big is not None:
        out += [
            Target("rk.LSTM train / nn.LSTM", _train_ratio(big, "rk.LSTM"), 1.05),
            Target("rk.LSTM with lengths / nn.LSTM", _train_ratio(big, "rk.LSTM lengths"), 1.15),
            Target("rk.GRU / nn.GRU", _train_ratio(big, "rk.GRU", "torch nn.GRU"), 0.90),
            Target("LSTM layer_norm / nn.LSTM", _train_ratio(big, "rk LSTM layer_norm"), 1.30),
            Target(
                "LSTM layer_norm: loop / engine",
                _loop_speedup(big, "rk LSTM layer_norm"),
                2.0,
                at_least=True,
            ),
            Target("GRU reset=before / nn.LSTM", _train_ratio(big, "rk GRU reset=before"), 1.10),
            Target("leaky / nn.LSTM", _train_ratio(big, "rk leaky"), 0.75),
            Target(
                "LSTM recurrent_dropout / nn.LSTM",
                _train_ratio(big, "rk LSTM recurrent_dropout"),
                1.25,
            ),
        ]
        base = big.result(BASELINE)
        for variant, r in big.rows.values():
            if variant.custom and variant.loop_of is None:
                out.append(
                    Target(f"inference {variant.name} / nn.LSTM", r.infer_s / base.infer_s, 1.3)
                )
        for kind, field in (("tensor", "tensor_mb"), ("resident", "rss_mb")):
            peaks = [
                (getattr(r, field) / getattr(base, field), v.name)
                for v, r in big.rows.values()
                if v.name.startswith("rk") and getattr(r, field) and getattr(base, field)
            ]
            if peaks:
                worst, name = max(peaks)
                text = f"training peak {kind} memory / nn.LSTM's (worst: {name})"
                out.append(Target(text, worst, 1.2))
    small = by_shape.get((16, 200, 64, 64))
    if small is not None:
        for variant, _ in small.rows.values():
            if variant.custom and variant.loop_of is None:
                out.append(
                    Target(
                        f"(16,200,64,64) {variant.name} / nn.LSTM",
                        _train_ratio(small, variant.name),
                        2.5,
                    )
                )
                out.append(
                    Target(
                        f"(16,200,64,64) {variant.name}: loop / engine",
                        _loop_speedup(small, variant.name),
                        3.0,
                        at_least=True,
                    )
                )
    return out


# -- the document ---------------------------------------------------------------------------------
@dataclass
class Experiment:
    """An experiment with a table of its own (``benchmarks.seq2seq``, ``.workspaces``): its
    options, its command line as the table records it, and its marked section of RESULTS.md."""

    name: str  # the module under benchmarks/, and the name of its markers
    description: str
    quick: str  # what --quick does

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=self.command([]), description=self.description)
        parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
        parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
        parser.add_argument("--quick", action="store_true", help=self.quick)
        return parser

    def parse(self, parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
        """The options (``argv`` None: the command line's); ``args.command`` records them."""
        argv = sys.argv[1:] if argv is None else argv
        args = parser.parse_args(argv)
        args.command = self.command(argv)
        if args.threads:
            torch.set_num_threads(args.threads)
        return args

    def command(self, argv: list[str]) -> str:
        return shlex.join(["python", "-m", f"benchmarks.{self.name}", *argv])

    def publish(self, body: str, quick: bool) -> str:
        """Print the table; a full run also writes it to its section of RESULTS.md."""
        print(body)
        if not quick:
            markers = (f"<!-- {self.name}:start -->", f"<!-- {self.name}:end -->")
            write_results(RESULTS, body, markers)
        return body


def environment(command: str, gemm_peak: float | None = None) -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            found = re.search(r"model name\s*:\s*(.+)", f.read())
            cpu = found.group(1) if found else cpu
    except OSError:
        pass
    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"
    lines = [
        f"- command: `{command}`",
        f"- torch {torch.__version__}, Python {platform.python_version()}, {platform.system()} "
        f"{platform.machine()}, {cpu}, {os.cpu_count()} cores",
        f"- torch threads: {torch.get_num_threads()}; oneDNN: "
        f"{torch.backends.mkldnn.is_available()}; CPU capability: "
        f"{torch.backends.cpu.get_cpu_capability()}; load average at start: {load}",
    ]
    if gemm_peak is not None:
        lines.append(f"- measured GEMM peak (2048^3 float32 matmul): {gemm_peak:.1f} GFLOP/s")
    return "\n".join(lines)


def document(
    by_shape: dict[Shape, ShapeResults], command: str, gemm_peak: float, repeats: int
) -> str:
    parts = [
        "## Measured",
        "",
        environment(command, gemm_peak),
        f"- each number: the median of {repeats} interleaved samples (rows run A B C A B C ..., "
        "the order rotating each round); train = forward + backward of `out.sum()`; "
        "infer = forward under `torch.no_grad()` in eval mode; memory of one training step above "
        "what it started with: tensor = the most tensor memory alive at once (replayed from the "
        "profiler's allocation events, the CPU counterpart of `torch.cuda.max_memory_allocated`), "
        "RSS = the resident memory high-water mark",
        "- `loop ...` rows: the Python loop a user would write (nn.LSTMCell / nn.GRUCell stepped "
        "by hand; for rnnkit rows rnnkit's reference loop over `cell.step`)",
        "",
    ]
    for res in by_shape.values():
        parts += [f"### (B, T, I, H) = {res.shape}", "", table(res, gemm_peak), ""]
    checked = targets(by_shape)
    if checked:
        parts += ["### Targets (training step unless said)", ""]
        parts += ["| target | measured | limit | verdict |", "|---|---:|---:|---|"]
        parts += [t.line() for t in checked]
        parts.append("")
    return "\n".join(parts)


def write_results(path: Path, body: str, markers: tuple[str, str] = (START, END)) -> None:
    """Replace the generated part of ``path`` (between the markers), keeping the notes around it."""
    start, end = markers
    old = path.read_text() if path.exists() else ""
    generated = f"{start}\n{body}\n{end}"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        new = head + generated + rest.split(end, 1)[1]
    else:
        new = (old or "# Benchmarks\n\n") + "\n" + generated + "\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)
