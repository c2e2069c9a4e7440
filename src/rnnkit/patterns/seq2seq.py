"""Sequence to sequence: an encoder reads the source, a decoder writes the target."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..cells import CELL_KINDS
from ..layers import Recurrent
from .decoder import RecurrentDecoder
from .generation import Encoding, GeneratorModel
from .reader import SequenceReader


class RecurrentEncoder(nn.Module):
    """The encoder side of :class:`Seq2Seq`: token ids -> :class:`Encoding` with the memory
    (every step's output, for attention) and the context vector ``c`` (the final hidden state,
    both directions concatenated for a bidirectional layer)."""

    def __init__(self, rnn: nn.Module, embedding=None) -> None:
        super().__init__()
        self.reader = SequenceReader(rnn, embedding, owner="RecurrentEncoder")
        self.output_size = self.reader.output_size

    def forward(self, src: Tensor, src_lengths: Tensor | None = None) -> Encoding:
        outputs, state, mask = self.reader(src, src_lengths)
        return Encoding(context=self.reader.final_hidden(state), memory=outputs, mask=mask)


class EncoderDecoder(GeneratorModel):
    """Any encoder with any incremental decoder.

    ``encoder(src, src_lengths) -> Encoding(context, memory, mask)``; ``decoder`` follows the
    protocol of :class:`~rnnkit.patterns.decoder.RecurrentDecoder` (``init_state``, ``step``,
    teacher-forced ``forward``).

    * ``forward(src, src_lengths, tgt_in, return_attention=False, sampling_prob=0.0)`` -> logits
      ``(B, T_tgt, V)`` (and attention ``(B, T_tgt, S)``); ``tgt_in`` starts with ``bos_id``.
    * ``generate(src, src_lengths, max_len=50, beam_size=1, length_penalty=0.0, do_sample=False,
      temperature=1.0, top_k=None, top_p=None, generator=None, return_attention=False,
      window=None)`` -> tokens ``(B, L <= max_len)``: the tokens after BOS, EOS included, then
      ``pad_id``. ``window`` (an :class:`~rnnkit.decoding.AttentionWindow`) keeps attention
      moving along the source and ends only at its end: for monotonic tasks such as spelling to
      sound, and sources longer than those seen in training.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, *, bos_id: int, eos_id: int, pad_id: int
    ) -> None:
        super().__init__(decoder, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id)
        self.encoder = encoder

    def encode(self, src: Tensor, src_lengths: Tensor | None = None) -> Encoding:
        return self.encoder(src, src_lengths)

    def forward(
        self, src: Tensor, src_lengths: Tensor | None, tgt_in: Tensor, **options
    ) -> Tensor | tuple[Tensor, Tensor]:
        return self._teacher_forced(self.encode(src, src_lengths), tgt_in, **options)

    @torch.no_grad()
    def generate(
        self, src: Tensor, src_lengths: Tensor | None = None, max_len: int = 50, **options
    ):
        return self._generate(self.encode(src, src_lengths), max_len=max_len, **options)


class Seq2Seq(EncoderDecoder):
    """The recurrent encoder-decoder for token sequences, with or without attention.

    ``attention=None`` is the lecture's encoder-decoder (Sutskever et al. 2014; Cho et al. 2014):
    the encoder's final hidden state is the context vector ``c`` that initialises every decoder
    layer (through a learned bridge when sizes differ, e.g. a bidirectional encoder) and, with
    ``feed_context=True``, is also fed to every decoder step. With attention ("bahdanau",
    "luong" = Luong's general score, "luong_dot") the decoder also reads every encoder output
    at every step; padded source positions are masked out.

    Args:
        src_vocab, tgt_vocab: vocabulary sizes. embed_dim, hidden_size: sizes of both sides
            (``hidden_size`` per direction in the encoder).
        cell: "lstm" or "gru" (both sides). num_layers: both sides.
        bidirectional: the encoder's. attention: None, "bahdanau", "luong", "luong_dot".
        pad_id, bos_id, eos_id: special target ids (``pad_id`` also pads the source).
        feed_context: feed ``c`` to every decoder step. input_feeding: Luong's input feeding
            (Luong attention only); without it teacher forcing runs all target steps at once,
            several times faster to train. dropout: between layers and on embeddings.
        tie_embeddings: share the target embedding with the output layer (``embed_dim ==
        hidden_size``).
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        embed_dim: int,
        hidden_size: int,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        attention: str | None = None,
        pad_id: int = 0,
        bos_id: int = 1,
        eos_id: int = 2,
        feed_context: bool = False,
        input_feeding: bool = True,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
    ) -> None:
        if cell not in ("lstm", "gru"):
            raise ValueError(f"Seq2Seq: cell must be one of ['gru', 'lstm'], got {cell!r}")
        for name, value in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"Seq2Seq: {name} must be an int >= 2, got {value!r}")
        if not 0 <= pad_id < src_vocab:
            raise ValueError(
                f"Seq2Seq: pad_id={pad_id} is outside the source vocabulary [0, {src_vocab})"
            )
        rnn = Recurrent(
            CELL_KINDS[cell], embed_dim, hidden_size, num_layers=num_layers,
            bidirectional=bidirectional, dropout=dropout,
        )  # fmt: skip
        encoder = RecurrentEncoder(rnn, nn.Embedding(src_vocab, embed_dim, padding_idx=pad_id))
        decoder = RecurrentDecoder(
            tgt_vocab, embed_dim, hidden_size, cell=cell, num_layers=num_layers,
            attention=attention, memory_size=encoder.output_size,
            context_size=encoder.output_size, feed_context=feed_context,
            input_feeding=input_feeding, dropout=dropout,
            tie_embeddings=tie_embeddings, pad_id=pad_id,
        )  # fmt: skip
        super().__init__(encoder, decoder, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id)
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
