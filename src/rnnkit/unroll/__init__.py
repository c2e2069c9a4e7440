"""Tier 2: the engine that runs any cell over time."""

from .compiled import release_workspaces, workspace_bytes
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
    "release_workspaces",
    "reverse_padded",
    "unroll",
    "workspace_bytes",
    "zoneout_step",
]
