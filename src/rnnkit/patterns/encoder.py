"""``SequenceEncoder`` (sequence -> vector) and ``Acceptor`` (sequence -> label)."""

from __future__ import annotations

from torch import Tensor, nn

from ..layers.dropout import Dropout
from .pooling import Pooling
from .reader import SequenceReader


class SequenceEncoder(nn.Module):
    """The lecture's encoder: a whole sequence read into one fixed-size vector ``(B, D)``.

    ``x -> embedding or feature extractor -> rnn -> pooling``, with ``pooling`` one of "last"
    (the final state; both directions' final states for a bidirectional layer), "mean", "max",
    "attention" (see :class:`~rnnkit.patterns.pooling.Pooling`). Padding never changes the vector.

    Args:
        rnn: any :class:`~rnnkit.Recurrent` layer (``D = rnn.output_size``).
        embedding: None (``x`` is ``(B, T, F)`` features), an ``nn.Embedding``, a pair
            ``(vocab_size, embed_dim)``, or a feature-extractor module mapping ``x`` to
            ``(B, T, F)``.
        pooling: "last" | "mean" | "max" | "attention".

    ``forward(x, lengths=None, return_attention=False)`` -> ``(B, D)`` (and the pooling weights
    ``(B, T)`` with ``pooling="attention"``).
    """

    def __init__(self, rnn: nn.Module, embedding=None, pooling: str = "last") -> None:
        super().__init__()
        self.reader = SequenceReader(rnn, embedding, owner=type(self).__name__)
        self.pooling = Pooling(pooling, rnn.output_size)
        self.output_size = rnn.output_size

    def forward(self, x: Tensor, lengths: Tensor | None = None, return_attention: bool = False):
        outputs, state, mask = self.reader(x, lengths)
        vector, weights = self.pooling(outputs, self.reader.final_hidden(state), mask)
        if not return_attention:
            return vector
        if weights is None:
            raise ValueError("return_attention=True needs pooling='attention'")
        return vector, weights


class Acceptor(nn.Module):
    r"""Sequence -> label: :math:`p(c \mid x) = \mathrm{softmax}(W\,\mathrm{pool}(o_{1:n}) + b)`.

    The lecture's acceptor reads the whole sequence and decides from the final state
    (``pooling="last"``); "mean", "max" and "attention" pool over every step instead. Returns
    logits ``(B, num_classes)``; train with ``F.cross_entropy``.

    Args:
        rnn, embedding, pooling: as in :class:`SequenceEncoder`.
        num_classes: labels.
        dropout: on the pooled vector, before the classifier (training only).
    """

    def __init__(
        self,
        rnn: nn.Module,
        num_classes: int,
        pooling: str = "last",
        embedding=None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"Acceptor: num_classes must be a positive int, got {num_classes!r}")
        self.encoder = SequenceEncoder(rnn, embedding, pooling)
        self.dropout = Dropout(dropout)
        self.classifier = nn.Linear(self.encoder.output_size, num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.classifier(self.dropout(self.encoder(x, lengths)))
