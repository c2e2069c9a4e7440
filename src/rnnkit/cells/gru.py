"""The gated recurrent unit."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import RecurrentCell

RESET_PLACEMENTS = ("after", "before")


class GRUCell(RecurrentCell):
    r"""Gated recurrent unit (Cho et al. 2014), one step.

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})   && \text{reset gate}\\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})   && \text{update gate}\\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))
               && \text{reset="after" (PyTorch, cuDNN)}\\
        n_t &= \tanh(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn})
               && \text{reset="before" (the lecture's } \tanh(W [r \odot h, x]))\\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}, \qquad y_t = h_t

    **Update-gate convention.** Here, as in PyTorch, :math:`z_t` is the share of the *old* state
    that is kept. Many textbooks (Goldberg; Chung et al. 2014) write
    :math:`h_t = (1-z)\odot h_{t-1} + z \odot \tilde h_t`, where their :math:`z` is the share of
    the *new* candidate: their :math:`z` is our :math:`1 - z_t`. We keep PyTorch's meaning so that
    ``from_torch``/``to_torch`` are exact.

    ``reset="after"`` applies the reset gate after the recurrent product, which lets one product
    serve all three gates; ``reset="before"`` is the original formulation and needs a second product
    per step. Both have the same parameters.
    """

    num_gates = 3

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, reset: str = "after"
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        if reset not in RESET_PLACEMENTS:
            raise ValueError(f"GRUCell: reset must be one of {RESET_PLACEMENTS}, got {reset!r}")
        self.reset = reset
        self.fused_mode = "GRU" if reset == "after" else None
        self._create_projections()
        self.reset_parameters()

    def step(self, xp_t: Tensor, state: Tensor, recurrent_mask: Tensor | None = None):
        h_prev = state
        x_r, x_z, x_n = xp_t.chunk(3, 1)
        h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
        if self.reset == "after":
            h_r, h_z, h_n = self.project_recurrent(h_in).chunk(3, 1)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
        else:
            w_rz, w_n = self.weight_hh.split([2 * self.hidden_size, self.hidden_size])
            b_rz, b_n = (None, None) if self.bias_hh is None else self.bias_hh.split(w_rz.shape[0])
            h_r, h_z = torch.nn.functional.linear(h_in, w_rz, b_rz).chunk(2, 1)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + torch.nn.functional.linear(r * h_in, w_n, b_n))
        h = (1 - z) * n + z * h_prev
        return h, h

    def extra_repr(self) -> str:
        return super().extra_repr() + f", reset={self.reset!r}"
