"""Several decoders searched as one: the ensemble's next-token distribution is the mean of theirs.

Independently trained models make partly independent mistakes, so averaging their predictive
distributions at every step (not their final outputs) is the classic way to trade compute at
inference for accuracy in sequence generation (Sutskever et al. 2014 ensembled five LSTMs).
Because the combined step follows the same ``step(tokens, state) -> (log_probs, state)``
protocol, greedy search, beam search and sampling drive it unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .state import DecoderState, StepFn


def ensemble_step(steps: Sequence[StepFn]) -> StepFn:
    r"""One step function for several decoders of the same vocabulary.

    The state is the tuple of the members' states (batch on dimension 0 of each, so the searches
    can repeat and reorder it), and the log-probabilities are those of the mean distribution:

    .. math:: \log p(y \mid \cdot) = \log \frac{1}{M} \sum_{m=1}^{M} p_m(y \mid \cdot)

    computed as a ``logsumexp`` so that tokens some member rules out stay finite.
    """
    steps = list(steps)
    if not steps:
        raise ValueError("ensemble_step needs at least one step function")
    log_members = math.log(len(steps))

    def step(tokens: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState]:
        if not isinstance(state, tuple) or len(state) != len(steps):
            got = f"a tuple of {len(state)}" if isinstance(state, tuple) else type(state).__name__
            raise ValueError(
                f"ensemble_step: the state must be a tuple of {len(steps)} member states, got {got}"
            )
        outputs = [
            member(tokens, member_state) for member, member_state in zip(steps, state, strict=True)
        ]
        sizes = [log_probs.shape[-1] for log_probs, _ in outputs]
        if len(set(sizes)) > 1:
            raise ValueError(f"ensemble_step: the members' vocabularies differ in size: {sizes}")
        stacked = torch.stack([log_probs.float() for log_probs, _ in outputs])
        mean = torch.logsumexp(stacked, dim=0) - log_members
        return mean, tuple(member_state for _, member_state in outputs)

    return step
