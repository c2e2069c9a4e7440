"""Windowed attention at decoding time: attention moves along the source, and the output ends only
once attention has reached the source's end.

An attention decoder trained on short sources can lose its place on a longer one: attention jumps
ahead and skips part of the source, or the decoder emits EOS half-way through. Chorowski et al.
(2015, *Attention-based models for speech recognition*) met this on utterances longer than any
in training and cured it at decoding time by letting attention read only a window around where
it read at the previous step. Where the source and the output are aligned monotonically
(spelling and pronunciation, speech and its transcript) the window costs little: a trained
model's attention already stays inside it nearly always (``python -m benchmarks.long_words``
counts it for the transliterator).

:class:`WindowedDecoder` wraps an attention decoder's step with that window and one more rule
from the same assumption: EOS may only be chosen while attention is at the source's last
positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor
from torch.nn import functional as F

from .state import DecoderState


@dataclass(frozen=True)
class AttentionWindow:
    """Where attention may look at each step, relative to ``p``, the source position it weighted
    most at the previous step (0 before the first step).

    Attributes:
        back: positions before ``p`` it may read (``p - back`` is the first).
        ahead: positions after ``p`` it may read (``p + ahead`` is the last).
        end: EOS is allowed only at a step whose most-weighted position is one of the source's
            last ``end + 1``; ``None`` allows it anywhere.
    """

    back: int = 1
    ahead: int = 3
    end: int | None = 1

    def __post_init__(self) -> None:
        for name in ("back", "ahead", "end"):
            value = getattr(self, name)
            if value is None and name == "end":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"AttentionWindow.{name} must be an int >= 0, got {value!r}")

    def mask(self, position: Tensor, source_mask: Tensor) -> Tensor:
        """``(B, S)``: True where attention may look, the source's real positions within
        ``[position - back, position + ahead]`` of each row."""
        offset = torch.arange(source_mask.shape[1], device=position.device) - position.unsqueeze(1)
        return source_mask & (offset >= -self.back) & (offset <= self.ahead)


class AttentionDecoder(Protocol):
    """What :class:`WindowedDecoder` needs (:class:`~rnnkit.patterns.RecurrentDecoder` has it):
    an attention kind, a step that also returns the attention weights, and a dict state whose
    ``"mask"`` (``(B, S)``, True at real source positions; absent when none is padded) the step's
    attention reads, next to the ``"memory"`` ``(B, S, M)``."""

    attention_kind: str | None

    def step_logits(self, tokens: Tensor, state: dict) -> tuple[Tensor, Tensor | None, dict]: ...


POSITION = "window_position"  # the state's key for each row's most-weighted source position


class WindowedDecoder:
    """An attention decoder stepped with an :class:`AttentionWindow`.

    Each step hands the decoder the source mask narrowed to the window, so attention weighs
    nothing outside it; the most-weighted position is kept in the state (key ``POSITION``,
    reordered with the beams like the rest) for the next step's window; and EOS gets
    log-probability ``-inf`` in rows whose attention is not yet at the source's end. The state
    keeps the full source mask under ``"mask"``, so a search still leaves it untouched.

    ``step`` follows the searches' protocol; ``step_logits`` also returns the weights.
    """

    def __init__(self, decoder: AttentionDecoder, eos_id: int, window: AttentionWindow) -> None:
        if getattr(decoder, "attention_kind", None) is None:
            raise ValueError(
                f"an attention window needs a decoder with attention; {type(decoder).__name__} "
                "has none"
            )
        self.decoder, self.eos_id, self.window = decoder, eos_id, window

    def step_logits(self, tokens: Tensor, state: dict) -> tuple[Tensor, Tensor, dict]:
        given_mask = state.get("mask")
        source_mask = given_mask
        if source_mask is None:  # no padded source: every position is real
            source_mask = torch.ones(
                state["memory"].shape[:2], dtype=torch.bool, device=state["memory"].device
            )
        position = state.get(POSITION)
        if position is None:
            position = torch.zeros(tokens.shape[0], dtype=torch.long, device=tokens.device)
        narrowed = {**state, "mask": self.window.mask(position, source_mask)}
        logits, weights, state = self.decoder.step_logits(tokens, narrowed)
        position = weights.argmax(dim=-1)
        if self.window.end is not None:
            too_early = position < source_mask.sum(dim=1) - 1 - self.window.end
            logits = logits.clone()
            logits[:, self.eos_id] = logits[:, self.eos_id].masked_fill(too_early, float("-inf"))
        state = {**state, POSITION: position, "mask": given_mask}
        if given_mask is None:
            del state["mask"]
        return logits, weights, state

    def step(self, tokens: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState]:
        logits, _, state = self.step_logits(tokens, state)
        return F.log_softmax(logits, dim=-1), state

    def attention(self, tgt_in: Tensor, state: dict) -> Tensor:
        """The weights ``(B, T, S)`` of each step over the given inputs ``tgt_in (B, T)``
        (teacher forcing, step by step, windowed as in decoding)."""
        weights = []
        for t in range(tgt_in.shape[1]):
            _, step_weights, state = self.step_logits(tgt_in[:, t], state)
            weights.append(step_weights)
        return torch.stack(weights, dim=1)
