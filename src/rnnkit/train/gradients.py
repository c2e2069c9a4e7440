"""Gradient norm and clipping, by value and/or by global norm."""

from __future__ import annotations

import dataclasses
import math

import torch


@dataclasses.dataclass(frozen=True)
class GradStats:
    """The gradient before clipping: its total L2 norm, and whether clipping changed it."""

    norm: float
    clipped: bool


def clip_gradients(
    params: list[torch.nn.Parameter], clip_norm: float | None, clip_value: float | None
) -> GradStats:
    """Clamp each element to +-clip_value, then rescale to total norm <= clip_norm.

    The reported norm is taken before any clipping: it is what tells a user that gradients
    explode. Non-finite gradients are left alone (the Trainer skips such an update).
    """
    params = [p for p in params if p.grad is not None]
    grads = [p.grad for p in params]
    if not grads:
        return GradStats(0.0, False)
    norm = torch.nn.utils.get_total_norm(grads).item()
    if not math.isfinite(norm):
        return GradStats(norm, False)
    clipped = False
    clipped_norm = norm
    if clip_value is not None:
        largest = torch.stack([g.abs().max() for g in grads]).max().item()  # one sync, not N
        if largest > clip_value:
            clipped = True
            for g in grads:
                g.clamp_(-clip_value, clip_value)
            clipped_norm = torch.nn.utils.get_total_norm(grads).item()
    if clip_norm is not None and clipped_norm > clip_norm:
        clipped = True
        # Takes the parameters (it reads their .grad), unlike get_total_norm above.
        torch.nn.utils.clip_grads_with_norm_(params, clip_norm, torch.tensor(clipped_norm))
    return GradStats(norm, clipped)
