"""``SequenceReader``: an optional embedding / feature extractor, then a recurrent layer."""

from __future__ import annotations

from torch import Tensor, nn

from ..layers.merge import MERGES
from ..unroll.sequences import check_lengths, mask_from_lengths
from .inputs import apply_input_module, make_input_module


class SequenceReader(nn.Module):
    """Reads a batch of sequences: ``x -> embedding or feature extractor -> rnn``.

    ``rnn`` is any :class:`~rnnkit.Recurrent` layer (or a module with its call signature
    ``rnn(x, lengths=...) -> (outputs, final_state)`` and its ``output_size``). ``embedding`` is
    None, an ``nn.Embedding``, a pair ``(vocab_size, embed_dim)``, or any module mapping the input
    to ``(B, T, F)`` features.

    ``forward(x, lengths=None)`` returns ``(outputs (B, T, D), final_state, mask (B, T) or None)``.
    """

    def __init__(self, rnn: nn.Module, embedding=None, owner: str = "SequenceReader") -> None:
        super().__init__()
        if not isinstance(rnn, nn.Module) or not hasattr(rnn, "output_size"):
            raise TypeError(
                f"{owner}: rnn must be a recurrent layer with an output_size (e.g. rk.LSTM), "
                f"got {type(rnn).__name__}"
            )
        self.owner = owner
        self.embedding = make_input_module(embedding, owner)
        self.rnn = rnn
        self.output_size = rnn.output_size

    def forward(self, x: Tensor, lengths: Tensor | None = None):
        features = apply_input_module(self.embedding, x, self.owner)
        mask = None
        if lengths is not None:
            lengths = check_lengths(lengths, features.shape[0], features.shape[1], self.owner)
            lengths = lengths.to(features.device)
            mask = mask_from_lengths(lengths, features.shape[1])
        outputs, state = self.rnn(features, lengths=lengths)
        return outputs, state, mask

    def final_hidden(self, state) -> Tensor:
        """The top layer's final hidden state ``(B, D)``: for a bidirectional layer the forward
        direction's state at each sequence's last step merged (like the outputs) with the backward
        direction's state at step 0."""
        h = state[0] if isinstance(state, tuple) else state  # (layers * directions, B, H)
        if getattr(self.rnn, "num_directions", 1) == 2:
            return MERGES[getattr(self.rnn, "merge", "concat")](h[-2], h[-1])
        return h[-1]
