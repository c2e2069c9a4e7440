"""``ConditionedGenerator``: a decoder conditioned on any context (image, video, question)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..unroll.sequences import check_lengths, mask_from_lengths
from .generation import Encoding, GeneratorModel
from .pooling import masked_mean


class ConditionedGenerator(GeneratorModel):
    r"""Generates a token sequence from a context: :math:`p(y_{1:m} \mid \text{context})`.

    ``context_encoder(context)`` (or ``context_encoder(context, context_lengths)`` when lengths are
    given) returns one of:

    * a vector ``(B, D)`` (e.g. a CNN's pooled image features): it initialises the decoder
      through its bridge and, with ``feed_context=True``, is fed to every step (Vinyals et al.
      2015's "show and tell" uses it as the initial state);
    * a set of vectors ``(B, N, D)`` (a CNN's grid cells, a video's frames): the decoder attends
      over them at every step (Xu et al. 2015's "show, attend and tell"), and their mean (over real
      positions) is the vector that initialises it; ``context_lengths (B,)`` masks a padded set;
    * an :class:`~rnnkit.patterns.generation.Encoding` for full control.

    ``decoder`` is a :class:`~rnnkit.patterns.RecurrentDecoder` (``context_size=D`` for the
    bridge, ``attention=...`` with ``memory_size=D`` for sets) or anything with its protocol.

    * ``forward(context, tgt_in, context_lengths=None, return_attention=False,
      sampling_prob=0.0)`` -> logits ``(B, T, V)`` (teacher forcing; ``tgt_in`` starts with BOS);
    * ``generate(context, context_lengths=None, max_len=50, beam_size=1, ...)`` -> tokens
      ``(B, L)``, with the same options and contract as :meth:`Seq2Seq.generate
      <rnnkit.patterns.EncoderDecoder.generate>`.
    """

    def __init__(
        self,
        context_encoder: nn.Module,
        decoder: nn.Module,
        *,
        bos_id: int,
        eos_id: int,
        pad_id: int,
    ) -> None:
        super().__init__(decoder, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id)
        self.context_encoder = context_encoder

    def encode(self, context, context_lengths: Tensor | None = None) -> Encoding:
        if context_lengths is None:
            encoded = self.context_encoder(context)
        else:
            encoded = self.context_encoder(context, context_lengths)
        if isinstance(encoded, Encoding):
            return encoded
        if not isinstance(encoded, Tensor) or encoded.dim() not in (2, 3):
            raise ValueError(
                "ConditionedGenerator: context_encoder must return a vector (B, D), a set "
                f"(B, N, D) or an Encoding, got {getattr(encoded, 'shape', type(encoded))}"
            )
        if encoded.dim() == 2:
            return Encoding(context=encoded)
        mask = None
        if context_lengths is not None:
            lengths = check_lengths(context_lengths, encoded.shape[0], encoded.shape[1],
                                    owner="ConditionedGenerator")  # fmt: skip
            mask = mask_from_lengths(lengths.to(encoded.device), encoded.shape[1])
        return Encoding(context=masked_mean(encoded, mask), memory=encoded, mask=mask)

    def forward(self, context, tgt_in: Tensor, context_lengths: Tensor | None = None, **options):
        return self._teacher_forced(self.encode(context, context_lengths), tgt_in, **options)

    @torch.no_grad()
    def generate(
        self, context, context_lengths: Tensor | None = None, max_len: int = 50, **options
    ):
        return self._generate(self.encode(context, context_lengths), max_len=max_len, **options)
