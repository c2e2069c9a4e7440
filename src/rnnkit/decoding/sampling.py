"""Ancestral sampling with temperature, top-k and top-p (nucleus) truncation."""

from __future__ import annotations

import torch
from torch import Tensor

from .greedy import decode_loop
from .state import DecoderState, StepFn


def truncate_logits(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    r"""Logits ``(B, V)`` reshaped for sampling.

    * temperature :math:`\tau`: :math:`p \propto \exp(z / \tau)`; < 1 sharpens, > 1 flattens.
    * ``top_k``: keep the k most likely tokens (Fan et al. 2018).
    * ``top_p``: keep the smallest set of most likely tokens whose probability reaches p (Holtzman
      et al. 2020); the most likely token is always kept.

    Removed tokens get logit ``-inf``.
    """
    if temperature <= 0:
        raise ValueError(
            f"temperature must be > 0 (use greedy_search for tau -> 0), got {temperature}"
        )
    logits = logits / temperature
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    # top_p = 1 keeps every token; the float32 running total would reach 1 early and drop the
    # least likely ones.
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens before it already reach top_p; the first one always stays.
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample(
    step: StepFn,
    state: DecoderState,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    **options,
) -> Tensor:
    """Draw each token from the (truncated, tempered) model distribution: ``y_t ~ p(. | y_<t, x)``.

    ``options`` are :func:`~rnnkit.decoding.greedy.decode_loop`'s keyword arguments
    (``batch_size``, ``bos_id``, ``eos_id``, ``pad_id``, ``max_len``, optional ``device``). Pass a
    seeded ``torch.Generator`` (on the decoder's device) for reproducible samples. Returns
    ``(B, L)`` tokens with the same conventions as greedy decoding (EOS kept, then ``pad_id``).
    """

    def choose(log_probs: Tensor) -> Tensor:
        probs = truncate_logits(log_probs, temperature, top_k, top_p).softmax(dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    return decode_loop(step, state, choose, **options)
