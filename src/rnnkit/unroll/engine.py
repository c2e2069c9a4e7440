"""The engine: any standard cell, with any option, over time, with a hand-written BPTT.

Tier 2's fast path for what PyTorch cannot fuse (layer-norm and peephole LSTMs, both GRU forms,
leaky units, relu Elman, recurrent dropout, zoneout, dilation). The recipe:

* one GEMM projects the inputs of all steps (``Kernel.project``; autograd differentiates it, so
  ``dW_ih`` and ``dx`` are single large GEMMs too);
* per step, only the recurrent product and the cell's pointwise maths (``Kernel.step``), written
  into preallocated time-major workspaces;
* a backward that walks t = T-1 .. 0 doing one product per step for ``dh_prev`` and keeping each
  step's pre-activation gradients, then forms ``dW_hh`` as ONE GEMM over the stacked ``(T * B)``
  rows (``Kernel.grads``).

The loops over time are ``timeloop.Run`` (Python, every cell and device) or, on CPU in float32 and
float64 where a C++ compiler built it, ``compiled.NativeRun`` (the same loops compiled). Lengths
cost nothing per step: a row past its length computes values nobody reads
(its outputs are zeroed and its final state is taken at its own last step), so the gradient
reaching those steps is exactly zero. Inference (no gradient needed) saves nothing.

``engine_unroll`` has the signature and the results of the reference loop ``unroll``, which stays
the definition; tests hold the two equal in values and gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..cells.base import RecurrentCell, State
from .compiled import NativeRun, compiled_available, compiled_runs
from .fused import can_fuse, fused_layer
from .pointwise import kernel_for
from .probes import current_observer
from .reference import unroll
from .sequences import mask_from_lengths, reverse_padded
from .timeloop import Run


def has_engine(cell: RecurrentCell) -> bool:
    """Whether the engine can run this cell (else the reference loop does)."""
    return kernel_for(cell) is not None


def fast_unroll(cell: RecurrentCell, x: Tensor, lengths=None, state=None, **options):
    """``unroll`` on the fastest path that computes it: PyTorch's fused kernel for a standard
    cell without options where that wins, else the engine where it can run the cell, else the
    reference loop.

    The reference loop also runs while a state observer is active: only it exposes each step.
    """
    if current_observer() is not None:
        return unroll(cell, x, lengths, state, **options)
    if _plain(options) and can_fuse([cell]) and not engine_beats_fused([cell], x, lengths):
        if state is None:
            state = cell.initial_state(x.shape[0], x.device, x.dtype)
        out, (final,) = fused_layer([cell], x, lengths, [state])
        return out, final
    if has_engine(cell):
        return engine_unroll(cell, x, lengths, state, **options)
    return unroll(cell, x, lengths, state, **options)


def _plain(options: dict) -> bool:
    """No option that only the engine and the reference loop implement."""
    return (
        not options.get("reverse")
        and not options.get("zoneout")
        and options.get("dilation", 1) == 1
        and options.get("recurrent_mask") is None
    )


def engine_unroll(
    cell: RecurrentCell,
    x: Tensor,
    lengths: Tensor | None = None,
    state: State | None = None,
    *,
    reverse: bool = False,
    recurrent_mask: Tensor | None = None,
    zoneout: float = 0.0,
    training: bool = False,
    dilation: int = 1,
) -> tuple[Tensor, State]:
    """Exactly :func:`rnnkit.unroll.unroll` (same arguments, same results), on the engine."""
    kernel = kernel_for(cell)
    if kernel is None:
        raise TypeError(f"engine_unroll: no engine kernel for {type(cell).__name__}")
    batch, steps, _ = x.shape
    if state is None:
        state = cell.initial_state(batch, x.device, x.dtype)
    initial = list(state) if isinstance(state, tuple) else [state]
    _check_states(initial, (batch, cell.hidden_size), x)
    if steps == 0:  # no steps: an empty output, and the state as it came in
        return x.new_zeros(batch, 0, cell.hidden_size), state
    if lengths is not None:
        lengths = lengths.to(x.device)
    if reverse:
        x = reverse_padded(x, lengths)
    zone = _zoneout_masks(initial, steps, zoneout, training) if zoneout else None
    config = kernel.config(cell)
    run_class = NativeRun if compiled_runs(kernel, config, x) else Run
    run = run_class(kernel, config, dilation, lengths, recurrent_mask, zone)
    graph = torch.is_grad_enabled() and any(
        t.requires_grad for t in (x, *initial, *cell.parameters())
    )
    # (T, B, G), one GEMM. Inference projects x as it lies (no time-major copy of x) and reads
    # it through a view; training projects time-major, the layout of the gradient the loop returns
    xp = run.project(cell, x.transpose(0, 1)) if graph else run.project(cell, x).transpose(0, 1)
    tensors = [xp, *initial, *run.weights(cell)]
    if graph:
        out, *finals = _EngineFunction.apply(run, *tensors)
        if lengths is not None:
            out = out.masked_fill(~_time_major_mask(lengths, steps), 0.0)
    else:
        with torch.no_grad():  # inference: keep nothing for a backward
            states, _, _ = run.forward(xp, initial, run.weights(cell), saving=False)
            out, *finals = run.outputs(states)
            if lengths is not None and not run.zeroed_padding:  # the loop's own buffer
                out.masked_fill_(~_time_major_mask(lengths, steps), 0.0)

    out = out.transpose(0, 1)
    if reverse:
        out = reverse_padded(out, lengths)
    return out, (tuple(finals) if len(finals) > 1 else finals[0])


def _time_major_mask(lengths: Tensor, steps: int) -> Tensor:
    """(T, B, 1): True at each row's real steps."""
    return mask_from_lengths(lengths, steps).t().unsqueeze(2)


def _check_states(initial: list[Tensor], shape: tuple[int, int], x: Tensor) -> None:
    """Each initial state is (B, H), in x's dtype and on x's device (the loops index raw memory)."""
    for s in initial:
        if s.shape != shape or s.dtype != x.dtype or s.device != x.device:
            raise ValueError(
                f"engine_unroll: an initial state must be {tuple(shape)}, {x.dtype} on {x.device}"
                f" like the input; got {tuple(s.shape)}, {s.dtype} on {s.device}"
            )


def _zoneout_masks(initial: list[Tensor], steps: int, p: float, training: bool):
    """Training: which units keep their previous value, ``(T, B, H)`` per state, drawn in the
    reference loop's order (step by step, h then c) so that a seeded run matches it exactly.
    Evaluation: the probability itself (the expectation is used).

    On CPU one draw of ``(T, states, B, H)`` reads the generator's stream in that very order
    (tested against the reference loop), in one op instead of two per step and state: at
    (16, 200, 64, 64) those were ~800 small ops. Other devices draw step by step.
    """
    if not training:
        return p
    like = initial[0]
    if like.device.type == "cpu":
        draws = torch.rand(steps, len(initial), *like.shape, dtype=like.dtype) < p
        return list(draws.unbind(1))
    draws = [[torch.rand_like(s) < p for s in initial] for _ in range(steps)]
    return [torch.stack(per_state) for per_state in zip(*draws, strict=True)]


class _EngineFunction(torch.autograd.Function):
    """Autograd's view of one engine call: inputs ``xp, *initial_states, *weights``; outputs
    the time-major output sequence and the final states.

    The workspaces the backward reads (the state slots, the kernel's ``saved`` buffers) go to
    ``save_for_backward``: autograd lets go of them as soon as this backward has run, before the
    rest of the graph's backward (the input projection's, the layers below), unless the graph is
    retained; the compiled loop's then return to its workspace pool for the next call.
    Everything the backward derives from them it rebuilds each time and drops at the end, so it
    may run more than once (``retain_graph=True``).
    """

    @staticmethod
    def forward(ctx, run: Run, xp: Tensor, *tensors: Tensor):
        n = run.kernel_class.num_states
        initial, weights = list(tensors[:n]), list(tensors[n:])
        slots, made, kernel = run.forward(xp, initial, weights, saving=True)
        ctx.run, ctx.kernel, ctx.num_slots = run, kernel, len(slots)
        # without zoneout the states as made are views of the slots: rebuilt, not saved
        ctx.made_is_slots = run.zone is None
        kept = [] if ctx.made_is_slots else made
        ctx.save_for_backward(*slots, *kept, *kernel.take_saved())
        return tuple(run.outputs(slots))

    @staticmethod
    def backward(ctx, d_out, *d_finals):
        saved, kernel, d = list(ctx.saved_tensors), ctx.kernel, ctx.run.dilation
        slots, saved = saved[: ctx.num_slots], saved[ctx.num_slots :]
        if ctx.made_is_slots:
            made = [slot[d:] for slot in slots]
        else:
            made, saved = saved[: ctx.num_slots], saved[ctx.num_slots :]
        kernel.restore_saved(saved)
        built_before = set(vars(kernel))
        d_xp, d_initial, d_weights = ctx.run.backward(kernel, slots, made, d_out, d_finals)
        # drop what this backward built and the saved buffers, so that the kernel (alive as long
        # as the graph) holds no workspace once autograd has freed the saved ones
        for name in set(vars(kernel)) - built_before:
            delattr(kernel, name)
        kernel.take_saved()
        return (None, d_xp, *d_initial, *d_weights)


def engine_beats_fused(cells: list[RecurrentCell], x: Tensor, lengths: Tensor | None) -> bool:
    """Whether the engine is faster than PyTorch's fused kernel for this fusable layer.

    Measured on the 2-core CPU (benchmarks/RESULTS.md): torch's GRU has no oneDNN path on CPU and
    loses to the engine; with lengths PyTorch leaves oneDNN for its packed-sequence loop, which
    loses to the engine in training, and in inference too once the engine's loop is compiled
    (1 thread: 42 vs 63 ms at (64,100,256,256), 3.3 vs 5.5 ms at (16,200,64,64)). On GPU cuDNN
    wins everywhere.
    """
    if x.device.type != "cpu":
        return False
    if cells[0].fused_mode == "GRU":
        return True
    return lengths is not None and (torch.is_grad_enabled() or compiled_available())
