"""The reference loop: runs any cell over time, one Python step at a time.

It is the definition of every layer's behaviour. The fused paths are tested against it.
"""

from __future__ import annotations

from collections import deque

import torch
from torch import Tensor

from ..cells.base import RecurrentCell, State
from .probes import current_observer
from .sequences import check_lengths, mask_from_lengths, reverse_padded, select_rows


def zoneout_step(previous: State, new: State, p: float, training: bool) -> State:
    """Zoneout (Krueger et al. 2017): each unit keeps its previous value with probability ``p``.

    In training the choice is random per unit and step; in evaluation the expectation
    ``p * previous + (1 - p) * new`` is used, which is deterministic.
    """
    if isinstance(new, tuple):
        return tuple(zoneout_step(o, n, p, training) for o, n in zip(previous, new, strict=True))
    if training:
        keep = torch.rand_like(new) < p
        return torch.where(keep, previous, new)
    return p * previous + (1 - p) * new


def unroll(
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
    """Run ``cell`` over a batch-first sequence ``x`` of shape ``(B, T, input_size)``.

    Returns ``(outputs, final_state)``: outputs ``(B, T, hidden_size)`` are zero past each
    sequence's length, and the final state is the state at each sequence's own last step.

    * ``lengths``: ``(B,)`` integers in ``[1, T]`` (a tensor of any integer dtype, or a list),
      or None for full-length rows.
    * ``reverse``: run from each sequence's own last step back to its first; outputs are returned
      in the original time order.
    * ``recurrent_mask``: ``(B, hidden_size)`` dropout mask on the state entering the recurrent
      product, the same at every step (variational dropout).
    * ``zoneout``: probability of a unit keeping its previous value (see :func:`zoneout_step`).
    * ``dilation``: step t reads the state of step t - dilation (skip connections through time).
    """
    batch, steps, _ = x.shape
    if state is None:
        state = cell.initial_state(batch, x.device, x.dtype)
    if lengths is not None:
        lengths = check_lengths(lengths, batch, steps).to(x.device)
    if reverse:
        x = reverse_padded(x, lengths)
    observer = current_observer()

    projected = cell.project_input(x)  # one GEMM for the input side of every step
    readable = deque([state] * dilation)  # readable[0] is the state of step t - dilation
    final = state
    outputs = []
    for t in range(steps):
        previous = readable.popleft()
        y, new = cell.step(projected[:, t], previous, recurrent_mask)
        if zoneout:
            new = zoneout_step(previous, new, zoneout, training)
            y = cell.output_of(new)
        if observer is not None:
            new = observer(cell, t, new)
            y = cell.output_of(new)
        readable.append(new)
        outputs.append(y)
        if lengths is not None:
            final = select_rows(lengths == t + 1, new, final)

    if not outputs:  # no steps: an empty output, and the state as it came in
        return x.new_zeros(x.shape[0], 0, cell.hidden_size), state
    out = torch.stack(outputs, dim=1)
    if lengths is None:
        final = readable[-1]
    else:
        # where, not a product: garbage past a length (even inf) must not leak into the result
        out = out.masked_fill(~mask_from_lengths(lengths, steps).unsqueeze(2), 0.0)
    if reverse:
        out = reverse_padded(out, lengths)
    return out, final
