"""Tier 4: decoding an incremental decoder: greedy, beam search, sampling, ensembles, an
attention window, state helpers.

A decoder only has to expose ``step(tokens, state) -> (log_probs, state)``, with the batch on
dimension 0 of every tensor in ``state`` (see :mod:`rnnkit.decoding.state`).
"""

from .beam import beam_search, gnmt_length_penalty
from .ensemble import ensemble_step
from .greedy import decode_loop, greedy_search
from .sampling import sample, truncate_logits
from .state import IncrementalDecoder, map_state, reorder_state, repeat_state
from .window import AttentionWindow, WindowedDecoder

__all__ = [
    "AttentionWindow",
    "IncrementalDecoder",
    "WindowedDecoder",
    "beam_search",
    "decode_loop",
    "ensemble_step",
    "gnmt_length_penalty",
    "greedy_search",
    "map_state",
    "reorder_state",
    "repeat_state",
    "sample",
    "truncate_logits",
]
