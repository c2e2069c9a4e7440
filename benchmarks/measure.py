"""Measurements: interleaved timing with medians, peak memory, the machine's GEMM peak.

DESIGN.md §3: variants are timed in one process, interleaved (A B C A B C ...), and each row's
result is the median of its samples, so that a slow moment of a shared machine hits every row
alike. NumPy is not used here: its BLAS threads spin and slow torch down.
"""

from __future__ import annotations

import ctypes
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from rnnkit.unroll import release_workspaces
from rnnkit.unroll.pointwise.matmul import MatMul

from .variants import Shape, Variant


@dataclass
class Result:
    train_s: float  # median seconds of one training step (forward + backward)
    infer_s: float  # median seconds of one inference forward
    tensor_mb: float | None = None  # most tensor memory alive during a training step, MiB
    rss_mb: float | None = None  # peak resident memory of a training step above the start, MiB


class Case:
    """One row, built for one shape: its module, input and the two timed calls."""

    def __init__(self, variant: Variant, shape: Shape, seed: int = 0) -> None:
        torch.manual_seed(seed)
        batch, steps, inputs, _ = shape
        self.variant = variant
        self.module = variant.build(shape)
        self.x = torch.randn(batch, steps, inputs)

    def train_step(self) -> None:
        self.module.train()
        for p in self.module.parameters():
            p.grad = None
        self.variant.run(self.module, self.x).sum().backward()

    def infer(self) -> None:
        self.module.eval()
        with torch.no_grad():
            self.variant.run(self.module, self.x)


def _timed(fn: Callable[[], None], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def time_cases(cases: list[Case], repeats: int, min_sample_s: float = 0.05) -> list[Result]:
    """Median time per call of every case's training step and inference, interleaved.

    One warm-up round; then ``repeats`` rounds, each running every case once (the order rotates
    between rounds). A sample repeats a fast call until it lasts ``min_sample_s``.
    """
    numbers = []
    for case in cases:  # warm-up, and a first estimate of how many calls make one sample
        case.train_step()
        case.infer()
        estimate = _timed(case.train_step, 1), _timed(case.infer, 1)
        numbers.append(tuple(max(1, round(min_sample_s / max(e, 1e-6))) for e in estimate))
    samples = [([], []) for _ in cases]
    order = list(range(len(cases)))
    for round_ in range(repeats):
        shift = round_ % len(cases)
        for i in order[shift:] + order[:shift]:
            case, (n_train, n_infer) = cases[i], numbers[i]
            samples[i][0].append(_timed(case.train_step, n_train))
            samples[i][1].append(_timed(case.infer, n_infer))
    return [Result(statistics.median(train), statistics.median(infer)) for train, infer in samples]


# -- memory ---------------------------------------------------------------------------------
try:
    _libc = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc: peaks may then hide in memory the allocator kept
    _libc = None


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1)) / 1024


def tensor_peak_mb(case: Case) -> float | None:
    """The most tensor memory alive at once during one training step, above what was alive
    before it, in MiB: the CPU counterpart of ``torch.cuda.max_memory_allocated``.

    PyTorch keeps no allocator statistics for CPU tensors, so this replays the profiler's
    allocation and free events in time order. Unlike the resident-memory peak it counts what the
    computation holds, exactly and repeatably: not the pages a buffer never touched, nor what
    the C allocator keeps cached, nor other threads' arenas. None if the profiler cannot say.

    The engine's workspace pool is emptied first, so the step allocates all it needs where the
    profiler sees it (and the buffers the pool keeps count as alive to the end of the step).
    """
    from torch.profiler import ProfilerActivity, profile

    case.train_step()  # lazily created state (grads, caches) is not the step's peak
    release_workspaces()
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            case.train_step()
        events = prof.profiler.kineto_results.events()
        changes = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    except (AttributeError, RuntimeError):
        return None
    alive = peak = 0
    for _, nbytes in changes:
        alive += nbytes
        peak = max(peak, alive)
    return peak / 2**20


def rss_peak_mb(case: Case) -> float | None:
    """Peak resident memory of one training step above the resident memory before it, in MiB.

    CPU tensors have no allocator statistics, so this reads Linux's high-water mark (VmHWM) after
    resetting it (``/proc/self/clear_refs``), with freed memory first given back by ``malloc_trim``
    and by the engine's workspace pool, so that the step cannot hide in memory kept from the
    steps before. None where Linux does not allow it.
    """
    try:
        case.train_step()  # lazily created state (grads, caches) is not the step's peak
        release_workspaces()
        if _libc is not None:
            _libc.malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _status_mb("VmRSS")
        case.train_step()
        return _status_mb("VmHWM") - before
    except (OSError, AttributeError):
        return None


def gemm_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a large square float32 matrix product, the best of ``repeats`` on the faster of
    torch.mm and oneDNN (rnnkit's engine uses either): the machine's practical GEMM peak. The best,
    not the median: a peak is what the machine can do."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    products = [lambda: a @ b]
    if MatMul(b, size).onednn:
        onednn = MatMul(b, size)
        products.append(lambda: onednn(a))
    best = float("inf")
    for product in products:
        product()
        best = min(best, *(_timed(product, 1) for _ in range(repeats)))
    return 2.0 * size**3 / best / 1e9
