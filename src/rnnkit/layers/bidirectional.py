"""``Bidirectional``: a combinator that runs any two sequence layers in opposite directions.

:class:`~rnnkit.layers.Recurrent` already has ``bidirectional=True`` (with torch-compatible
weights). This combinator is for everything else: two layers of different kinds or options, or any
module with the layer signature ``layer(x, lengths=None, state=None) -> (out, state)``.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..unroll.sequences import check_lengths, reverse_padded
from .merge import MERGES, check_merge


class Bidirectional(nn.Module):
    """Run ``forward_layer`` over the sequence and ``backward_layer`` over it reversed.

    The backward layer reads each sequence reversed within its own length (it starts at the
    sequence's own last step, never at padding); its outputs are put back in time order before the
    two are merged with ``merge`` ("concat", "sum", "mul" or "ave"). Both layers must be
    batch-first. Returns ``(output, (forward_state, backward_state))``.
    """

    def __init__(self, forward_layer: nn.Module, backward_layer: nn.Module, merge: str = "concat"):
        super().__init__()
        self.forward_layer = forward_layer
        self.backward_layer = backward_layer
        self.merge = check_merge(merge)

    def forward(self, x: Tensor, lengths: Tensor | None = None, state=None):
        if lengths is not None:
            lengths = check_lengths(lengths, x.shape[0], x.shape[1], owner="Bidirectional")
            lengths = lengths.to(x.device)
        forward_state, backward_state = (None, None) if state is None else state
        out_forward, forward_state = self.forward_layer(x, lengths=lengths, state=forward_state)
        out_backward, backward_state = self.backward_layer(
            reverse_padded(x, lengths), lengths=lengths, state=backward_state
        )
        out = MERGES[self.merge](out_forward, reverse_padded(out_backward, lengths))
        return out, (forward_state, backward_state)
