"""Pooling a sequence of outputs ``(B, T, D)`` into one vector ``(B, D)``, padding-aware."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import masked_softmax

POOLINGS = ("last", "mean", "max", "attention")


class Pooling(nn.Module):
    r"""Summarise the outputs :math:`o_1 .. o_n` of a sequence of length :math:`n`.

    * "last": the final state (:math:`h_n`; for a bidirectional layer the forward state at
      :math:`n` merged with the backward state at step 1), the lecture's acceptor;
    * "mean": :math:`\frac1n \sum_{t \le n} o_t`; "max": the element-wise maximum over
      :math:`t \le n`;
    * "attention": :math:`\sum_t \alpha_t o_t` with :math:`\alpha = \mathrm{softmax}_t(v^\top
      \tanh(W o_t + b))` over real steps (Yang et al. 2016's learned-query attention).
    """

    def __init__(self, kind: str, size: int) -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {kind!r}")
        self.kind = kind
        if kind == "attention":
            self.score = nn.Sequential(
                nn.Linear(size, size), nn.Tanh(), nn.Linear(size, 1, bias=False)
            )

    def forward(
        self, outputs: Tensor, last: Tensor, mask: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        """``outputs (B, T, D)``, ``last (B, D)`` (the final state), ``mask (B, T)`` or None ->
        ``(vector (B, D), attention weights (B, T) or None)``."""
        if self.kind == "last":
            return last, None
        if self.kind == "attention":
            weights = masked_softmax(self.score(outputs).squeeze(2), mask)
            return torch.bmm(weights.unsqueeze(1), outputs).squeeze(1), weights
        if self.kind == "mean":
            return masked_mean(outputs, mask), None
        if mask is not None:
            outputs = outputs.masked_fill(~mask.unsqueeze(2), float("-inf"))
        return outputs.amax(dim=1), None


def masked_mean(vectors: Tensor, mask: Tensor | None) -> Tensor:
    """Mean of ``vectors (B, N, D)`` over the positions where ``mask (B, N)`` is True."""
    if mask is None:
        return vectors.mean(dim=1)
    keep = mask.unsqueeze(2).to(vectors.dtype)
    return (vectors * keep).sum(1) / keep.sum(1).clamp(min=1)
