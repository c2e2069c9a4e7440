"""``python -m benchmarks.workspaces``: what the engine's workspace pool saves in a training step.

The compiled loop takes its buffers from a pool and reuses them across calls
(``rnnkit/unroll/csrc/workspace.h``). Each row is timed with the pool and with every buffer
allocated afresh as before it (``fresh_workspaces``), the two interleaved (DESIGN.md §3), and
besides the time, the minor page faults of a step: a fresh large buffer is newly mapped memory,
faulted in page by page.

Each row runs in a process of its own, as a user's training does: whether glibc hands a freed
buffer out again or maps fresh pages depends on everything the process allocated before (its mmap
threshold rises after large frees), so in the main benchmark's process, where many rows came
first, fresh buffers fault far less than in a process that trains one model. The ratios go to
RESULTS.md, between their own markers.

Examples::

    python -m benchmarks.workspaces --threads 2
    python -m benchmarks.workspaces --quick      # a smoke run, printed only
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys

from rnnkit.unroll.compiled import fresh_workspaces, native_module

from .__main__ import QUICK_SHAPE, SHAPES, _shape
from .measure import Case, _timed
from .report import Experiment, environment
from .variants import VARIANTS, Shape

EXPERIMENT = Experiment("workspaces", __doc__, "a tiny shape, printed only")
ROWS = [
    "torch nn.LSTM",  # a control: the pool does not touch it, so its ratio is noise
    "rk.GRU",
    "rk LSTM layer_norm",
    "rk LSTM layer_norm lengths",
    "rk LSTM peephole",
    "rk LSTM zoneout",
    "rk leaky",
]


def _sample(case: Case, fresh: bool, number: int) -> tuple[float, float]:
    """Seconds and minor page faults per training step, over ``number`` steps."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    if fresh:
        with fresh_workspaces():
            seconds = _timed(case.train_step, number)
    else:
        seconds = _timed(case.train_step, number)
    return seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / number


def measure_row(name: str, shape: Shape, repeats: int) -> dict[str, float]:
    """One row in this process: median ms and page faults per step, with the pool and without."""
    case = Case(next(v for v in VARIANTS if v.name == name), shape)
    case.train_step()  # warm-up
    number = max(1, round(0.1 / _timed(case.train_step, 1)))  # a sample lasts ~0.1 s
    samples: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for round_ in range(repeats):
        for fresh in (False, True) if round_ % 2 == 0 else (True, False):
            samples[fresh].append(_sample(case, fresh, number))
    result = {}
    for fresh, label in ((False, "pool"), (True, "fresh")):
        result[f"ms_{label}"] = statistics.median(s for s, _ in samples[fresh]) * 1e3
        result[f"faults_{label}"] = statistics.median(f for _, f in samples[fresh])
    return result


def measure(shape: Shape, repeats: int, threads: int | None) -> list[tuple[str, dict]]:
    """Every row, each in a fresh process."""
    rows = []
    for name in ROWS:
        command = [sys.executable, "-m", "benchmarks.workspaces", "--row", name,
                   "--shape", ",".join(map(str, shape)), "--repeats", str(repeats)]  # fmt: skip
        if threads:
            command += ["--threads", str(threads)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append((name, json.loads(done.stdout.splitlines()[-1])))
    return rows


def document(by_shape: dict, command: str, repeats: int) -> str:
    lines = [
        "## The workspace pool: a training step with it and without it",
        "",
        environment(command),
        f"- each row in a process of its own; median of {repeats} interleaved samples per row and"
        " setting; page faults: minor faults per training step (4 KiB pages mapped in)",
        "",
        "| shape | row | ms, pool | ms, fresh buffers | fresh / pool | faults, pool "
        "| faults, fresh |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for shape, rows in by_shape.items():
        for name, r in rows:
            lines.append(
                f"| {','.join(map(str, shape))} | {name} | {r['ms_pool']:.1f} "
                f"| {r['ms_fresh']:.1f} | {r['ms_fresh'] / r['ms_pool']:.2f} "
                f"| {r['faults_pool']:.0f} | {r['faults_fresh']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = EXPERIMENT.parser()
    parser.add_argument("--row", choices=ROWS, help=argparse.SUPPRESS)  # one row: JSON out
    parser.add_argument("--shape", type=_shape, help=argparse.SUPPRESS)
    args = EXPERIMENT.parse(parser, argv)
    if native_module() is None:
        parser.error("the compiled time loop is not available here, and the pool is part of it")
    if args.row:
        body = json.dumps(measure_row(args.row, args.shape, args.repeats))
        print(body)
        return body
    shapes, repeats = ([QUICK_SHAPE], 1) if args.quick else (SHAPES, args.repeats)
    by_shape = {}
    for shape in shapes:
        print(f"shape {shape} ...", file=sys.stderr, flush=True)
        by_shape[shape] = measure(shape, repeats, args.threads)
    body = document(by_shape, args.command, repeats)
    return EXPERIMENT.publish(body, args.quick)


if __name__ == "__main__":
    main()
