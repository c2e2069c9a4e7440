"""The benchmark's rows: what is run, and how many GEMM flops it does.

Every row is a layer ``x (B, T, I) -> out (B, T, H)`` run two ways: a training step (forward, then
backward of ``out.sum()``) and inference (``torch.no_grad``, eval mode). The "loop" rows are the
Python loop a user would write for the same cell: ``nn.LSTMCell``/``nn.GRUCell`` stepped by hand
for the torch layers, and for rnnkit's layers rnnkit's own reference loop (``rk.unroll``: the input
projection hoisted out of the loop, then ``cell.step`` per step), forced by a state observer.
The "python engine" rows run rnnkit's engine with its Python time loop instead of its compiled
one (``rnnkit.unroll.compiled``), to show what compiling it buys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

import rnnkit as rk
from rnnkit.unroll import observe_states
from rnnkit.unroll.compiled import python_loop_only

Shape = tuple[int, int, int, int]  # (B, T, I, H)

GATES = {"lstm": 4, "gru": 3, "rnn": 1, "leaky": 1}


@dataclass
class Variant:
    """One row: ``build(shape)`` gives a module; ``run(module, x)`` gives the output sequence."""

    name: str
    kind: str  # cell kind, for the flop count
    build: Callable[[Shape], nn.Module]
    run: Callable[[nn.Module, Tensor], Tensor] = field(default=lambda m, x: m(x)[0])
    loop_of: str | None = None  # the row this row is the Python loop of
    custom: bool = False  # runs on rnnkit's engine (no fused kernel): the "custom cells"

    def flops(self, shape: Shape) -> float:
        """GEMM flops of the forward: input projections and recurrent products of every step."""
        batch, steps, inputs, hidden = shape
        return 2.0 * batch * steps * GATES[self.kind] * hidden * (inputs + hidden)


def _rk(kind: str, **options) -> Callable[[Shape], nn.Module]:
    return lambda shape: rk.Recurrent(kind, shape[2], shape[3], **options)


def _with_lengths(module: nn.Module, x: Tensor) -> Tensor:
    """Lengths spread evenly over [T/2, T], one per row: a typical padded batch."""
    batch, steps = x.shape[:2]
    lengths = torch.linspace(steps // 2, steps, batch).round().long()
    return module(x, lengths)[0]


def _on_reference_loop(module: nn.Module, x: Tensor) -> Tensor:
    """The same layer on rnnkit's reference loop: an observer that watches every step forces it."""
    with observe_states(lambda cell, t, state: state):
        return module(x)[0]


def _on_python_engine(module: nn.Module, x: Tensor) -> Tensor:
    """The same layer with the engine's Python time loop instead of its compiled one."""
    with python_loop_only():
        return module(x)[0]


def _cell_loop(cell_class) -> Callable[[Shape], nn.Module]:
    return lambda shape: _TorchCellLoop(cell_class(shape[2], shape[3]))


class _TorchCellLoop(nn.Module):
    """The loop a PyTorch user writes around ``nn.LSTMCell`` / ``nn.GRUCell``."""

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: Tensor):
        state = None
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs, 1), state


def _torch(cls) -> Callable[[Shape], nn.Module]:
    return lambda shape: cls(shape[2], shape[3], batch_first=True)


def _rows() -> list[Variant]:
    rows = [
        Variant("torch nn.LSTM", "lstm", _torch(nn.LSTM)),
        Variant("torch nn.GRU", "gru", _torch(nn.GRU)),
        Variant("loop nn.LSTMCell", "lstm", _cell_loop(nn.LSTMCell), loop_of="torch nn.LSTM"),
        Variant("loop nn.GRUCell", "gru", _cell_loop(nn.GRUCell), loop_of="torch nn.GRU"),
        Variant("rk.LSTM", "lstm", _rk("lstm")),
        Variant("rk.LSTM lengths", "lstm", _rk("lstm"), run=_with_lengths),
        Variant("rk.GRU", "gru", _rk("gru")),
        Variant("rk.RNN tanh", "rnn", _rk("rnn")),
        Variant("rk.RNN relu", "rnn", _rk("rnn", nonlinearity="relu")),
    ]
    custom = [
        ("LSTM layer_norm", "lstm", {"layer_norm": True}),
        ("LSTM peephole", "lstm", {"peephole": True}),
        ("GRU reset=before", "gru", {"reset": "before"}),
        ("leaky", "leaky", {}),
        # dropout and zoneout act in training only: their inference rows equal the plain LSTM's
        ("LSTM recurrent_dropout", "lstm", {"recurrent_dropout": 0.25}),
        ("LSTM zoneout", "lstm", {"zoneout": 0.1}),
        ("LSTM dilation=2", "lstm", {"dilation": 2}),
    ]
    for name, kind, options in custom:
        rows.append(Variant(f"rk {name}", kind, _rk(kind, **options), custom=True))
    layer_norm = _rk("lstm", layer_norm=True)
    rows.append(
        Variant("rk LSTM layer_norm lengths", "lstm", layer_norm, _with_lengths, custom=True)
    )
    # what compiling the engine's time loop buys: a few rows again on its Python loop
    for row in list(rows):
        if row.name in ("rk.GRU", "rk LSTM peephole", "rk GRU reset=before", "rk leaky"):
            rows.append(Variant(f"python engine {row.name}", row.kind, row.build,
                                run=_on_python_engine))  # fmt: skip
    # the reference loop of each rnnkit row that has a plain full-length run
    for row in list(rows):
        if row.name.startswith("rk") and row.run not in (_with_lengths, _on_python_engine):
            loop = Variant(
                f"loop {row.name}",
                row.kind,
                row.build,
                run=_on_reference_loop,
                loop_of=row.name,
            )
            rows.append(loop)
    return rows


VARIANTS: list[Variant] = _rows()


def select(names: list[str] | None) -> list[Variant]:
    """The rows whose name contains one of ``names`` (all rows for None), plus the baselines."""
    if not names:
        return VARIANTS
    wanted = [v for v in VARIANTS if any(n.lower() in v.name.lower() for n in names)]
    baselines = [v for v in VARIANTS if v.name.startswith("torch") and v not in wanted]
    return baselines + wanted
