"""The incremental decoder-state protocol and helpers that work on any nested state.

A decoder that the searches can drive exposes one method::

    log_probs, state = decoder.step(tokens, state)   # tokens (B,) -> log_probs (B, V)

``state`` is whatever the decoder needs to continue without recomputing the prefix (cell states,
the encoder memory, the previous attentional vector ...): a tensor, or tuples, lists and dicts of
tensors nested to any depth, with the **batch on dimension 0 of every tensor** (``None`` and
non-tensor leaves are carried as they are). That single rule is what lets beam search expand a
state to ``B * k`` rows and reorder it after each step without knowing what is inside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

DecoderState = Any


class IncrementalDecoder(Protocol):
    """Anything with ``step(tokens (B,), state) -> (log_probs (B, V), state)``."""

    def step(self, tokens: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState]: ...


StepFn = Callable[[Tensor, DecoderState], tuple[Tensor, DecoderState]]


def map_state(fn: Callable[[Tensor], Tensor], state: DecoderState) -> DecoderState:
    """Apply ``fn`` to every tensor of a nested tuple / list / dict state, keeping its structure."""
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, dict):
        return {key: map_state(fn, value) for key, value in state.items()}
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # a namedtuple keeps its type
        return type(state)(*(map_state(fn, value) for value in state))
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, value) for value in state)
    return state


def reorder_state(state: DecoderState, index: Tensor) -> DecoderState:
    """Rows ``index`` of every tensor (``index_select`` on dim 0): beam search's reordering."""
    return map_state(lambda t: t.index_select(0, index.to(t.device)), state)


def repeat_state(state: DecoderState, times: int) -> DecoderState:
    """Every row repeated ``times`` times in place, ``[a, b] -> [a, a, b, b]`` (beams of a row are
    contiguous)."""
    return map_state(lambda t: t.repeat_interleave(times, dim=0), state)


def check_special_ids(vocab_size: int | None, **ids: int) -> None:
    """Raise a ValueError naming a special token id (bos, eos, pad) outside ``[0, vocab_size)``."""
    for name, value in ids.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int token id, got {value!r}")
        if value < 0 or (vocab_size is not None and value >= vocab_size):
            raise ValueError(f"{name}={value} is outside the vocabulary [0, {vocab_size})")


def check_max_len(max_len: int) -> int:
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be a positive int, got {max_len!r}")
    return max_len


def start_tokens(batch_size: int, bos_id: int, device: torch.device | None) -> Tensor:
    """The first input of every row: ``bos_id``."""
    return torch.full((batch_size,), bos_id, dtype=torch.long, device=device)
