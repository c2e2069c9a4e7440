"""The Elman RNN cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import RecurrentCell

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


class RNNCell(RecurrentCell):
    r"""Elman's simple recurrent network, one step.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad y_t = h_t

    with :math:`\phi` = ``tanh`` (default) or ``relu``. A relu cell starts from the identity
    recurrent matrix (Le, Jaitly & Hinton 2015, "IRNN"), which keeps gradients alive over long
    spans.
    """

    num_gates = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"RNNCell: nonlinearity must be one of {sorted(NONLINEARITIES)}, "
                f"got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        self.phi = NONLINEARITIES[nonlinearity]
        self.fused_mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self._create_projections()
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.nonlinearity == "relu":
            nn.init.eye_(self.weight_hh)

    def step(self, xp_t: Tensor, state: Tensor, recurrent_mask: Tensor | None = None):
        h = self.phi(xp_t + self.project_recurrent(state, recurrent_mask))
        return h, h

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"
