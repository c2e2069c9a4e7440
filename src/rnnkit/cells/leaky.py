"""Leaky-integrator units."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import RecurrentCell, uniform_time_scales


class LeakyCell(RecurrentCell):
    r"""A leaky-integrator RNN (Jaeger et al. 2007; the "leaky units" of Goodfellow et al. §10.9).

    .. math::
        \tilde h_t &= \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}) \\
        h_t &= a \odot h_{t-1} + (1 - a) \odot \tilde h_t, \qquad y_t = h_t

    Each unit has its own learnable leak rate :math:`a \in (0, 1)`, kept in range as
    :math:`a = \sigma(\alpha)`. A unit with rate :math:`a` integrates over about
    :math:`1/(1-a)` steps; the rates start spread over time scales from about 1 to 100 steps,
    so the layer begins with both fast and slow memories.
    """

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias)
        self._create_projections()
        self.rate_logit = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.rate_logit.copy_(torch.logit(uniform_time_scales(self.hidden_size)))

    @property
    def rate(self) -> Tensor:
        """The leak rate :math:`a` of each unit."""
        return torch.sigmoid(self.rate_logit)

    def step(self, xp_t: Tensor, state: Tensor, recurrent_mask: Tensor | None = None):
        h_prev = state
        h_candidate = torch.tanh(xp_t + self.project_recurrent(h_prev, recurrent_mask))
        a = self.rate
        h = a * h_prev + (1 - a) * h_candidate
        return h, h
