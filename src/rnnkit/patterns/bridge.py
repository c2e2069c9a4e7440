"""The bridge from an encoder's summary (the context vector c) to a decoder's initial state."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Bridge(nn.Module):
    r"""Initial decoder state from the context vector :math:`c` (the lecture's encoder output).

    Where sizes agree, :math:`h^{(l)}_0 = c` for every decoder layer; where they differ (a
    bidirectional encoder, other hidden sizes) a learned bridge maps it,
    :math:`h^{(l)}_0 = \tanh(W_l c + b_l)`. An LSTM decoder's memory cells start at zero.
    """

    def __init__(self, context_size: int, hidden_size: int, num_layers: int, lstm: bool) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.lstm = lstm
        self.proj = (
            None
            if context_size == hidden_size
            else nn.Linear(context_size, num_layers * hidden_size)
        )

    def forward(self, context: Tensor) -> tuple:
        """``context (B, C)`` -> one initial state per decoder layer (``(h, c)`` for the LSTM)."""
        if self.proj is None:
            hs = [context] * self.num_layers
        else:
            hs = list(torch.tanh(self.proj(context)).chunk(self.num_layers, dim=-1))
        return tuple((h, torch.zeros_like(h)) if self.lstm else h for h in hs)
