"""Greedy decoding, and the token-by-token loop that greedy decoding and sampling share."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .state import DecoderState, StepFn, check_max_len, check_special_ids, start_tokens

Chooser = Callable[[Tensor], Tensor]  # log_probs (B, V) -> tokens (B,)


def decode_loop(
    step: StepFn,
    state: DecoderState,
    choose: Chooser,
    *,
    batch_size: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    max_len: int,
    device: torch.device | None = None,
) -> Tensor:
    """Feed each chosen token back as the next input until every row has emitted ``eos_id`` or
    ``max_len`` tokens were produced.

    Returns a LongTensor ``(B, L)``: the tokens after BOS (never BOS itself), EOS included, then
    ``pad_id``; ``L`` is the longest row's length (``<= max_len``). A row's tokens depend only on
    that row (finished rows keep being fed ``pad_id``, and their choices are overwritten by
    ``pad_id``), so a row decodes the same alone or in any batch.
    """
    check_max_len(max_len)
    check_special_ids(None, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id)
    tokens = start_tokens(batch_size, bos_id, device)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=device)
    outputs = []
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        tokens = choose(log_probs).masked_fill(finished, pad_id)
        outputs.append(tokens)
        finished = finished | (tokens == eos_id)
        if bool(finished.all()):
            break
    return torch.stack(outputs, dim=1)


def greedy_search(step: StepFn, state: DecoderState, **options) -> Tensor:
    r"""Greedy decoding: :math:`y_t = \arg\max_v \log p(v \mid y_{<t}, x)` at every step.

    ``step(tokens, state) -> (log_probs, state)`` is a decoder's incremental step (see
    :mod:`rnnkit.decoding.state`); ``options`` are :func:`decode_loop`'s keyword arguments
    (``batch_size``, ``bos_id``, ``eos_id``, ``pad_id``, ``max_len``, optional ``device``).
    Returns ``(B, L)`` tokens as :func:`decode_loop` describes.
    """
    return decode_loop(step, state, lambda log_probs: log_probs.argmax(dim=-1), **options)
