"""Tier 2: the engine that runs any cell over time."""

from .fused import can_fuse, fused_layer
from .probes import observe_states
from .reference import unroll, zoneout_step
from .sequences import check_lengths, mask_from_lengths, reverse_padded

__all__ = [
    "can_fuse",
    "check_lengths",
    "fused_layer",
    "mask_from_lengths",
    "observe_states",
    "reverse_padded",
    "unroll",
    "zoneout_step",
]
