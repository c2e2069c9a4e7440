"""``Transducer``: one output per input step (tagging), optionally with a CRF on top."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from ..layers.dropout import Dropout
from .crf import LinearChainCRF
from .reader import SequenceReader

IGNORE = -100  # PyTorch's ignore_index: the value of padded targets and decoded padding


class Transducer(nn.Module):
    r"""Sequence -> aligned sequence: :math:`p(y_t \mid x_{1:n}) = \mathrm{softmax}(W o_t + b)` at
    every step :math:`t` (a time-distributed head over the recurrent outputs; with a bidirectional
    layer each :math:`o_t` sees the whole sequence).

    With ``crf=True`` the per-step scores become the emissions of a :class:`LinearChainCRF`: the
    tags are decoded jointly by Viterbi and trained with the sequence-level negative
    log-likelihood.

    Args:
        rnn, embedding: as in :class:`~rnnkit.patterns.SequenceEncoder`.
        num_outputs: tags (classes) per step.
        crf: add a linear-chain CRF.
        dropout: on the recurrent outputs, before the head (training only).

    * ``forward(x, lengths=None)`` -> scores ``(B, T, num_outputs)`` (logits, or CRF emissions);
    * ``loss(x, lengths, targets)`` -> mean over sequences of the summed per-step cross-entropy
      (or the CRF negative log-likelihood); positions past each length are ignored;
    * ``decode(x, lengths=None)`` -> tags ``(B, T)``: per-step argmax or the Viterbi path, with
      -100 past each length.
    """

    def __init__(
        self,
        rnn: nn.Module,
        num_outputs: int,
        crf: bool = False,
        embedding=None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
            raise ValueError(f"Transducer: num_outputs must be a positive int, got {num_outputs!r}")
        self.reader = SequenceReader(rnn, embedding, owner=type(self).__name__)
        self.dropout = Dropout(dropout)
        self.head = nn.Linear(rnn.output_size, num_outputs)
        self.crf = LinearChainCRF(num_outputs) if crf else None

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self._scores(x, lengths)[0]

    def loss(self, x: Tensor, lengths: Tensor | None, targets: Tensor) -> Tensor:
        scores, mask = self._scores(x, lengths)
        if targets.shape != scores.shape[:2]:
            raise ValueError(
                f"Transducer.loss: targets must have shape {tuple(scores.shape[:2])}, "
                f"got {tuple(targets.shape)}"
            )
        if self.crf is not None:
            return self.crf.nll(scores, targets, mask).mean()
        if mask is not None:
            targets = targets.masked_fill(~mask, IGNORE)
        summed = F.cross_entropy(
            scores.transpose(1, 2), targets, ignore_index=IGNORE, reduction="sum"
        )
        return summed / scores.shape[0]

    def decode(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        scores, mask = self._scores(x, lengths)
        if self.crf is not None:
            return self.crf.viterbi(scores, mask, pad_value=IGNORE)[0]
        tags = scores.argmax(dim=-1)
        return tags if mask is None else tags.masked_fill(~mask, IGNORE)

    def _scores(self, x: Tensor, lengths: Tensor | None):
        outputs, _, mask = self.reader(x, lengths)
        return self.head(self.dropout(outputs)), mask
