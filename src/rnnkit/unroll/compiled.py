"""The engine's time loop compiled (``csrc/``), where this machine has a C++ compiler.

At small shapes the Python engine's cost is per-step overhead, not arithmetic: a step runs a dozen
tensor ops from Python, each paying its dispatch (at (B, T, I, H) = (16, 200, 64, 64) a training
step was 4x ``nn.LSTM``'s). The compiled loop runs the same recipe (the same slots, the same
products on the same backends, the same gradients formed as large GEMMs after the loop) with one
plain C++ loop for each step's pointwise maths, on raw pointers. ``timeloop.Run`` stays the
definition it is tested against, and runs whatever the compiled loop does not cover (GPU tensors,
dtypes other than float32 and float64, a kernel without a C++ counterpart) or when it cannot be
built.

Building: at first use ``torch.utils.cpp_extension`` compiles ``csrc/engine.cpp`` (about a minute
on 2 cores) into ``~/.cache/rnnkit/native/<key>`` (``$RNNKIT_CACHE`` overrides the root), ``key``
hashing the sources, the versions of torch and Python and this CPU's features, because the code is
built for the CPU it runs on. Later processes load the library in about a second. Without a
compiler, a warning says so once and the Python engine runs everything. ``RNNKIT_NATIVE=0`` turns
the compiled loop off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor

from .pointwise import ElmanKernel, GRUKernel, Kernel, LeakyKernel, LSTMKernel
from .pointwise.matmul import onednn_from_macs, stacked_matmul
from .timeloop import Run

SOURCES = Path(__file__).with_name("csrc")
_DTYPES = (torch.float32, torch.float64)


def native_cell(kernel: type[Kernel], config: tuple) -> tuple[str, list[float]] | None:
    """The compiled loop's name and flags for a kernel and its config; None if it has none."""
    if kernel is LSTMKernel:
        layer_norm, peephole, eps_r, eps_c = config
        return "lstm", [float(peephole), float(layer_norm), eps_r, eps_c]
    if kernel is GRUKernel:
        return "gru", [float(config[0] == "before")]
    if kernel is ElmanKernel:
        return "elman", [float(config[0] == "relu")]
    if kernel is LeakyKernel:
        return "leaky", []
    return None


_python_only = False


@contextlib.contextmanager
def python_loop_only():
    """Within this block the engine runs its Python loop everywhere: to compare the two loops
    (benchmarks, tests) or to rule the compiled one out while debugging."""
    global _python_only
    before, _python_only = _python_only, True
    try:
        yield
    finally:
        _python_only = before


def compiled_available() -> bool:
    """Whether the engine may use its compiled loop here (built, and not ruled out)."""
    return not _python_only and native_module() is not None


def compiled_runs(kernel: type[Kernel], config: tuple, x: Tensor) -> bool:
    """Whether the compiled loop runs this call (else ``timeloop.Run`` does)."""
    return (
        x.device.type == "cpu"
        and x.dtype in _DTYPES
        and native_cell(kernel, config) is not None
        and compiled_available()
    )


class NativeRun(Run):
    """``Run`` with both loops compiled; the time bookkeeping around them stays ``Run``'s."""

    loop_norm: tuple[Tensor, Tensor, float] | None = None

    def project(self, cell, x: Tensor) -> Tensor:
        """The loop applies the projection's closing layer norm (the layer-norm LSTM's LN_i)
        itself, to each step's rows as it reaches them, and its backward too: no pass over all
        steps and no (T, B, G) buffer of its own either way."""
        self.loop_norm = self.kernel_class.loop_norm(cell)
        if self.loop_norm is None:
            return super().project(cell, x)
        return self.kernel_class.project_before_norm(cell, x)

    def weights(self, cell) -> list[Tensor]:
        weights = super().weights(cell)
        return weights if self.loop_norm is None else [*weights, *self.loop_norm[:2]]

    def _cell(self) -> tuple[str, list[float]]:
        kind, flags = native_cell(self.kernel_class, self.config)
        return kind, flags if self.loop_norm is None else [*flags, self.loop_norm[2]]

    def forward(self, xp: Tensor, initial: list[Tensor], weights: list[Tensor], saving: bool):
        kind, flags = self._cell()
        weights = [w.contiguous() for w in weights]
        # inference: the loop zeroes the outputs past the lengths as it goes (training leaves it
        # to autograd's masking, whose backward zeroes their gradients)
        lengths = None if saving or self.lengths is None else self.lengths.long().contiguous()
        slots, made, saved = native_module().forward(
            kind, flags, xp if xp.stride(-1) == 1 else xp.contiguous(),
            [s.contiguous() for s in initial], weights,
            self.dilation, *self._masks(initial[0]), saving, onednn_from_macs(), lengths,
        )  # fmt: skip
        self.zeroed_padding = lengths is not None
        if not made:  # no zoneout (or inference, where nothing reads them): the slots
            made = [slot[self.dilation :] for slot in slots]
        if saving and self.loop_norm is not None:  # LN_i's backward reads its input
            saved = [*saved, xp]
        return slots, made, CompiledBuffers(weights, saved)

    def backward(self, kernel: CompiledBuffers, slots, made, d_out, d_finals):
        kind, flags = self._cell()
        d_slots = self.seed_gradients(slots, d_out, d_finals)
        d_xp, pairs, others = native_module().backward(
            kind, flags, kernel.weights, self.dilation, *self._masks(slots[0]),
            onednn_from_macs(), slots, [] if self.zone is None else made, kernel.buffers, d_slots,
        )  # fmt: skip
        parts = [stacked_matmul(d, inputs) for d, inputs in zip(pairs[::2], pairs[1::2])]
        d_w_hh = parts[0] if len(parts) == 1 else torch.cat(parts)
        d_initial = [d_slot[: self.dilation].sum(0) for d_slot in d_slots]
        return d_xp, d_initial, [d_w_hh, *others]

    def zeros_like(self, t: Tensor) -> Tensor:
        return native_module().workspace(t, list(t.shape)).zero_()

    def _masks(self, like: Tensor) -> tuple[Tensor | None, list[Tensor], float]:
        """The recurrent mask as ``like``'s dtype and shape, zoneout's keep masks as ``like``'s
        dtype, and zoneout's p in evaluation (-1: none), as the compiled loop takes them."""
        mask = self.mask
        if mask is not None:
            mask = mask.to(like.dtype).expand(like.shape[-2:]).contiguous()
        if self.zone is None:
            return mask, [], -1.0
        if isinstance(self.zone, float):
            return mask, [], self.zone
        if self.zone[0].dtype != like.dtype:  # converted once, for forward and backward
            self.zone = [k.to(like.dtype).contiguous() for k in self.zone]
        return mask, self.zone, -1.0


def workspace_bytes() -> tuple[int, int]:
    """Bytes held by the compiled loop's workspace pool: ``(all, of which free)``.

    The compiled loop takes its buffers (state slots, what the backward reads, the gradients it
    builds) from a pool and reuses them across calls once nothing holds them any more: at large
    shapes fresh buffers cost the page faults of newly mapped memory, a fifth to a third of a
    training step (``csrc/workspace.h``). Free buffers not reused for a few hundred requests are
    let go."""
    if native_module.cache_info().currsize == 0 or native_module() is None:
        return 0, 0
    return native_module().workspace_bytes()


def release_workspaces() -> None:
    """Give the pool's free buffers back now (the CPU counterpart of ``torch.cuda.empty_cache``);
    buffers still in use (saved for a backward, viewed by an output) stay."""
    if native_module.cache_info().currsize and native_module() is not None:
        native_module().release_workspaces()


@contextlib.contextmanager
def fresh_workspaces():
    """Within this block the compiled loop allocates every buffer anew, as it did before the pool:
    to measure what the pool saves (``python -m benchmarks.workspaces``)."""
    module = native_module() if compiled_available() else None
    if module is None:
        yield
        return
    module.set_workspace_pool(False)
    try:
        yield
    finally:
        module.set_workspace_pool(True)


class CompiledBuffers:
    """What a compiled call keeps between forward and backward, in the place of a Kernel: the
    weights and the buffers the cell filled (``saved``, handed to autograd in between)."""

    saved = ("buffers",)

    def __init__(self, weights: list[Tensor], buffers: list[Tensor]):
        self.weights = weights
        self.buffers = buffers

    def take_saved(self) -> list[Tensor]:
        buffers, self.buffers = self.buffers, None
        return buffers or []

    def restore_saved(self, tensors: list[Tensor]) -> None:
        self.buffers = list(tensors)


@functools.cache
def native_module():
    """The compiled module, built on first use; None when it is off or cannot be built."""
    if os.environ.get("RNNKIT_NATIVE", "1") == "0":
        return None
    compiler = os.environ.get("CXX", "c++")
    try:
        if shutil.which(compiler) is None:
            raise RuntimeError(f"no C++ compiler: '{compiler}' is not on PATH")
        return _build()
    except Exception as error:  # no compiler, no ninja, a read-only cache: the engine still runs
        lines = str(error).strip().splitlines() or [type(error).__name__]
        reason = next((line for line in lines if "error:" in line), lines[-1])  # the compiler's
        warnings.warn(
            f"rnnkit: the compiled time loop could not be built ({reason.strip()}); the Python"
            " engine runs instead, which is slower at small shapes. Set RNNKIT_NATIVE=0 to skip"
            " the attempt.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


def _build():
    from torch.utils.cpp_extension import load

    sources = sorted(SOURCES.glob("*.[ch]*"))
    key = _build_key(sources)
    directory = _cache_root() / "native" / key
    directory.mkdir(parents=True, exist_ok=True)
    name = f"rnnkit_native_{key}"
    if not (directory / f"{name}.so").exists():
        print(
            f"rnnkit: compiling the engine's time loop for this machine (once, about a minute)"
            f" into {directory}",
            file=sys.stderr,
        )
    linux = sys.platform.startswith("linux")
    with _ninja_on_path():
        return load(
            name=name,
            sources=[str(SOURCES / "engine.cpp")],
            # built for this CPU; -ffast-math lets glibc's vector exp and tanh in (compile flags
            # only: linking without it keeps the process's denormal handling as it was)
            extra_cflags=["-O3", "-march=native", "-ffast-math", "-fopenmp"] if linux else ["-O3"],
            extra_ldflags=["-lmvec", "-fopenmp"] if linux else [],
            build_directory=str(directory),
            verbose=False,
        )


def _build_key(sources: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(f"{torch.__version__} {sys.version} {platform.machine()}".encode())
    digest.update(_cpu_features().encode())
    return digest.hexdigest()[:16]


def _cpu_features() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def _cache_root() -> Path:
    if os.environ.get("RNNKIT_CACHE"):
        return Path(os.environ["RNNKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    root = Path(base) / "rnnkit"
    try:
        root.mkdir(parents=True, exist_ok=True)
        return root
    except OSError:  # a read-only home: a per-user temporary directory
        return Path(tempfile.gettempdir()) / f"rnnkit-{os.getuid()}"


class _ninja_on_path:
    """torch's builder runs ``ninja`` from PATH; the ``ninja`` package's binary sits in the
    virtualenv, which is not on PATH when rnnkit runs as ``.venv/bin/rnnkit``."""

    def __enter__(self):
        self.path = os.environ.get("PATH", "")
        try:
            import ninja
        except ImportError:
            return self
        os.environ["PATH"] = os.pathsep.join([ninja.BIN_DIR, self.path])
        return self

    def __exit__(self, *exc):
        os.environ["PATH"] = self.path
