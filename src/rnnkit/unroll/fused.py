"""PyTorch's fused kernels (oneDNN on CPU, cuDNN on GPU) for the cells whose maths they implement.

A layer of standard cells (``cell.fused_mode`` not None), one or two directions, runs here in one
kernel call, with variable lengths through a PackedSequence. The result equals the reference loop
(tested), so this is purely a fast path.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..cells.base import RecurrentCell, State
from .pointwise import kernel_for

_KERNELS = {
    "LSTM": torch._VF.lstm,
    "GRU": torch._VF.gru,
    "RNN_TANH": torch._VF.rnn_tanh,
    "RNN_RELU": torch._VF.rnn_relu,
}


def can_fuse(cells: list[RecurrentCell]) -> bool:
    """Whether these cells (the directions of one layer) can share one fused kernel call."""
    modes = {cell.fused_mode for cell in cells}
    biases = {cell.bias for cell in cells}
    # A user's subclass that changes the maths inherits fused_mode but is not what the kernel
    # computes; the engine's check for unmodified cells says which ones still are.
    unmodified = all(kernel_for(cell) is not None for cell in cells)
    return len(modes) == 1 and None not in modes and len(biases) == 1 and unmodified


def fused_layer(
    cells: list[RecurrentCell], x: Tensor, lengths: Tensor | None, states: list[State]
) -> tuple[Tensor, list[State]]:
    """One layer on the fused kernel: ``cells[0]`` forwards, ``cells[1]`` (if any) backwards.

    ``x`` is batch-first ``(B, T, I)``; returns the outputs ``(B, T, D*H)`` (directions
    concatenated, zeros past each length) and the final state of each direction.
    """
    mode = cells[0].fused_mode
    kernel = _KERNELS[mode]
    weights = [w for cell in cells for w in cell.flat_weights()]
    bidirectional = len(cells) == 2
    is_lstm = mode == "LSTM"
    hx = (
        tuple(torch.stack(parts) for parts in zip(*states, strict=True))
        if is_lstm
        else torch.stack(states)
    )
    training = cells[0].training
    if lengths is None:
        out, *hy = kernel(x, hx, weights, cells[0].bias, 1, 0.0, training, bidirectional, True)
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        hx = tuple(h.index_select(1, order) for h in hx) if is_lstm else hx.index_select(1, order)
        data, *hy = kernel(
            packed.data,
            packed.batch_sizes,
            hx,
            weights,
            cells[0].bias,
            1,
            0.0,
            training,
            bidirectional,
        )
        out, _ = pad_packed_sequence(
            PackedSequence(data, packed.batch_sizes, order, unorder),
            batch_first=True,
            total_length=x.shape[1],
        )
        hy = [h.index_select(1, unorder) for h in hy]
    finals = [tuple(h[d] for h in hy) if is_lstm else hy[0][d] for d in range(len(cells))]
    return out, finals
