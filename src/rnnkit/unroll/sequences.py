"""Variable-length batches: lengths checks, masks, padding-aware reversal, packed sequences."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def check_lengths(lengths, batch_size: int, max_len: int, owner: str = "unroll") -> Tensor:
    """Validate ``lengths`` for a ``(batch_size, max_len, ...)`` batch and return it as int64.

    Lengths may be any integer dtype on any device; every length must lie in ``[1, max_len]``.
    """
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"{owner}: lengths must be an int tensor of shape ({batch_size},), "
                f"got {type(lengths).__name__}"
            ) from err
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"{owner}: lengths must have an integer dtype, got {lengths.dtype}")
    if lengths.dim() != 1 or lengths.shape[0] != batch_size:
        raise ValueError(
            f"{owner}: lengths must have shape ({batch_size},) (one per sequence of the batch), "
            f"got {tuple(lengths.shape)}"
        )
    if batch_size:
        low, high = int(lengths.min()), int(lengths.max())
        if low < 1 or high > max_len:
            bad = low if low < 1 else high
            raise ValueError(
                f"{owner}: lengths must lie between 1 and the padded length {max_len}, "
                f"got a length of {bad}"
            )
    return lengths.long()


def mask_from_lengths(lengths: Tensor, max_len: int) -> Tensor:
    """Boolean mask ``(B, max_len)``: True at real steps, False at padding."""
    steps = torch.arange(max_len, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of a batch-first ``x`` within its own length; padding stays put.

    ``[a b c _ _]`` becomes ``[c b a _ _]``, so a backward pass over the result starts at each
    sequence's own last step. Applying it twice gives ``x`` back.
    """
    if lengths is None:
        return x.flip(1)
    max_len = x.shape[1]
    steps = torch.arange(max_len, device=x.device).unsqueeze(0)
    lengths = lengths.to(x.device).unsqueeze(1)
    source = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (B, T)
    index = source.reshape(*source.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def unpack(x: PackedSequence) -> tuple[Tensor, Tensor]:
    """A PackedSequence as a batch-first padded tensor and its lengths, in the original order."""
    padded, lengths = pad_packed_sequence(x, batch_first=True)
    return padded, lengths


def repack(padded: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """The inverse of :func:`unpack`: ``padded`` packed in the layout of ``like``, its rows in
    the same order as ``like``'s, as ``torch.nn`` returns them. (Packing anew would sort the
    lengths again, and a sort may order equal lengths otherwise: ``data`` would no longer line
    up with targets packed as the input was.)"""
    order = like.sorted_indices
    if order is not None:
        padded, lengths = padded[order], lengths[order.to(lengths.device)]
    data = pack_padded_sequence(padded, lengths.cpu(), batch_first=True).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def select_rows(condition: Tensor, new, old):
    """Per batch row, ``new`` where ``condition`` holds, else ``old`` (tensors or tuples)."""
    if isinstance(new, tuple):
        return tuple(select_rows(condition, n, o) for n, o in zip(new, old, strict=True))
    return torch.where(condition.unsqueeze(1), new, old)
