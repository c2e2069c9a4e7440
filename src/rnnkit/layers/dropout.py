"""Dropout between layers: the mask drawn as uniforms compared with ``p``.

Same distribution as :func:`torch.nn.functional.dropout`, which on CPU draws its mask through
``bernoulli_``: up to twice as slow, forward and backward together, as a uniform draw and a
comparison (``python -m benchmarks.dropout``), and it keeps that mask for backward as floats,
four bytes an element against one here. On other devices torch's fused kernel is the fast one,
and is used.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

# Below about 4,096 elements the extra calls cost more than the faster draw saves (measured on 2
# threads: 0.81x at 1,024 elements, 1.0x at 4,096, 1.4x at 65,536, 1.7x at 10^6).
_UNIFORM_FROM = 4_096


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Each element of ``x`` zeroed with probability ``p``, the rest scaled by ``1 / (1 - p)`` so
    that the expectation is ``x``; ``x`` itself when not training or when ``p`` is 0."""
    _check_probability(p)
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or x.numel() < _UNIFORM_FROM:
        return F.dropout(x, p, training=True)
    keep = torch.rand_like(x) >= p  # P(u >= p) = 1 - p for u uniform on [0, 1)
    # x * keep saves only the boolean mask for backward: a byte an element, where torch's CPU
    # kernel keeps its mask as floats. Scaling the product in place saves a second tensor.
    return (x * keep).mul_(1.0 / (1.0 - p))


class Dropout(nn.Module):
    """:func:`dropout` as a module: active in training mode only."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        _check_probability(p)
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _check_probability(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1), got {p!r}")
