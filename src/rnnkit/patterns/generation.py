"""What every encoder-decoder model shares: teacher forcing and ``generate`` over a decoder."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..decoding import AttentionWindow, WindowedDecoder, beam_search, greedy_search, sample
from ..decoding.state import DecoderState, StepFn, check_special_ids


class Encoding(NamedTuple):
    """What an encoder hands the decoder: a context vector ``(B, C)`` (initial state, fed input),
    a memory ``(B, S, M)`` for attention and its mask ``(B, S)`` (True at real positions)."""

    context: Tensor | None
    memory: Tensor | None = None
    mask: Tensor | None = None


class GeneratorModel(nn.Module):
    """Base of :class:`EncoderDecoder` and :class:`ConditionedGenerator`: a decoder with the
    incremental protocol (``init_state(context=, memory=, memory_mask=)``, ``step``, and a
    teacher-forced ``forward(tgt_in, state, ...)``, e.g. :class:`RecurrentDecoder`) plus the special
    token ids."""

    def __init__(self, decoder: nn.Module, bos_id: int, eos_id: int, pad_id: int) -> None:
        super().__init__()
        vocab = getattr(decoder, "vocab_size", None)
        check_special_ids(vocab, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id)
        if bos_id == eos_id:
            raise ValueError(f"bos_id and eos_id must differ, both are {bos_id}")
        self.decoder = decoder
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id

    def initial_state(self, encoding: Encoding) -> dict:
        """The decoder's state before its first step, given what the encoder produced."""
        return self.decoder.init_state(
            context=encoding.context, memory=encoding.memory, memory_mask=encoding.mask
        )

    def _teacher_forced(self, encoding: Encoding, tgt_in: Tensor, **options):
        self._check_targets(tgt_in, encoding)
        return self.decoder(tgt_in, self.initial_state(encoding), **options)

    def _generate(
        self,
        encoding: Encoding,
        max_len: int = 50,
        return_attention: bool = False,
        window: AttentionWindow | None = None,
        **options,
    ):
        """Tokens after BOS for ``encoding`` (see :func:`search` for the options; ``window``
        keeps attention moving along the source, see :class:`~rnnkit.decoding.WindowedDecoder`)."""
        check_one_output(return_attention, options)
        state = self.initial_state(encoding)
        tokens = search(
            self.step_function(window), state, rows_of(encoding), **self.special_ids,
            max_len=max_len, **options,
        )  # fmt: skip
        if not return_attention:
            return tokens
        return tokens, self.attention_of(encoding, tokens, window)

    def step_function(self, window: AttentionWindow | None = None) -> StepFn:
        """The decoder's step as the searches call it: plain, or within an attention window."""
        if window is None:
            return self.decoder.step
        return WindowedDecoder(self.decoder, self.eos_id, window).step

    @property
    def special_ids(self) -> dict[str, int]:
        """``bos_id``, ``eos_id`` and ``pad_id``, as the searches take them."""
        return {"bos_id": self.bos_id, "eos_id": self.eos_id, "pad_id": self.pad_id}

    def attention_of(
        self, encoding: Encoding, tokens: Tensor, window: AttentionWindow | None = None
    ) -> Tensor:
        """The attention weights ``(B, L, S)`` behind generated ``tokens``, recomputed by a
        teacher-forced pass over them (the same numbers as during decoding, since both run the
        same step, within the same ``window`` if one was used); zero after each row's EOS."""
        bos = torch.full_like(tokens[:, :1], self.bos_id)
        tgt_in = torch.cat([bos, tokens[:, :-1]], dim=1)
        state = self.initial_state(encoding)
        if window is None:
            _, weights = self.decoder(tgt_in, state, return_attention=True)
        else:
            weights = WindowedDecoder(self.decoder, self.eos_id, window).attention(tgt_in, state)
        ended = (tokens == self.eos_id).long().cumsum(dim=1)
        after_eos = (ended - (tokens == self.eos_id).long()) > 0
        return weights.masked_fill(after_eos.unsqueeze(2), 0.0)

    def _check_targets(self, tgt_in: Tensor, encoding: Encoding) -> None:
        owner = type(self).__name__
        reference = rows_of(encoding)
        if not isinstance(tgt_in, Tensor) or tgt_in.dtype.is_floating_point or tgt_in.dim() != 2:
            raise ValueError(
                f"{owner}: tgt_in must be integer token ids of shape (B, T_tgt), got "
                f"{getattr(tgt_in, 'dtype', type(tgt_in).__name__)} "
                f"{tuple(getattr(tgt_in, 'shape', ()))}"
            )
        if tgt_in.shape[0] != reference.shape[0]:
            raise ValueError(
                f"{owner}: tgt_in has {tgt_in.shape[0]} rows, the source has {reference.shape[0]}"
            )
        vocab = getattr(self.decoder, "vocab_size", None)
        if vocab is not None and tgt_in.numel() and (tgt_in.min() < 0 or tgt_in.max() >= vocab):
            raise ValueError(
                f"{owner}: tgt_in ids must lie in [0, {vocab}), got min {int(tgt_in.min())} "
                f"max {int(tgt_in.max())}"
            )
        if tgt_in.shape[1] and bool((tgt_in[:, 0] != self.bos_id).any()):
            raise ValueError(f"{owner}: every row of tgt_in must start with bos_id={self.bos_id}")


def check_one_output(return_attention: bool, options: dict) -> None:
    """Attention weights are recomputed for one output per row, so not for an n-best list."""
    if return_attention and options.get("nbest") is not None:
        raise ValueError("return_attention=True needs one output per row; it cannot go with nbest")


def rows_of(encoding: Encoding) -> Tensor:
    """A tensor of the encoding with one row per example (its batch size and device)."""
    return encoding.context if encoding.context is not None else encoding.memory


def search(
    step: StepFn,
    state: DecoderState,
    rows: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    max_len: int = 50,
    beam_size: int = 1,
    length_penalty: float = 0.0,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    nbest: int | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Tokens ``(B, L)`` from ``step`` by the search the options ask for: sampling, greedy
    (``beam_size = 1``, no length penalty) or beam search. ``rows`` gives batch size and device.

    With ``nbest=n`` (at most ``beam_size``): each row's n best hypotheses of the beam search and
    their scores, best first, as ``(tokens (B, n, L), scores (B, n))``; the scores are the
    hypotheses' log-probabilities (divided by the length penalty, if one is set)."""
    ids = {"bos_id": bos_id, "eos_id": eos_id, "pad_id": pad_id}
    common = {"batch_size": rows.shape[0], "max_len": max_len, "device": rows.device}
    if nbest is not None:
        if do_sample:
            raise ValueError("nbest ranks the hypotheses of a beam search; not with do_sample")
        return beam_search(
            step, state, **ids, **common, beam_size=beam_size, length_penalty=length_penalty,
            nbest=nbest, return_scores=True,
        )  # fmt: skip
    if do_sample:
        if beam_size != 1:
            raise ValueError("do_sample=True draws one sequence per row; use beam_size=1")
        return sample(
            step, state, **ids, **common, temperature=temperature, top_k=top_k, top_p=top_p,
            generator=generator,
        )  # fmt: skip
    if beam_size == 1 and length_penalty == 0.0:
        return greedy_search(step, state, **ids, **common)
    return beam_search(
        step, state, **ids, **common, beam_size=beam_size, length_penalty=length_penalty
    )
