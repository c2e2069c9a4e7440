"""How the two directions of a bidirectional layer are merged into one output."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

MERGES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "concat": lambda forward, backward: torch.cat([forward, backward], dim=-1),
    "sum": lambda forward, backward: forward + backward,
    "mul": lambda forward, backward: forward * backward,
    "ave": lambda forward, backward: (forward + backward) / 2,
}


def check_merge(merge: str) -> str:
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {list(MERGES)}, got {merge!r}")
    return merge


def merged_size(merge: str, hidden_size: int) -> int:
    """Feature size after merging two directions of ``hidden_size`` each."""
    return 2 * hidden_size if merge == "concat" else hidden_size
