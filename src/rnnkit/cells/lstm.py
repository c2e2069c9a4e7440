"""The long short-term memory cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import RecurrentCell


class LSTMCell(RecurrentCell):
    r"""Long short-term memory (Hochreiter & Schmidhuber 1997; Gers et al. 2000), one step.

    The cell state :math:`c` is a memory that the gates read, write and forget selectively:

    .. math::
        i_t &= \sigma(W_{ii} x_t + W_{hi} h_{t-1} + b_i)  && \text{input gate: selective write}\\
        f_t &= \sigma(W_{if} x_t + W_{hf} h_{t-1} + b_f)  && \text{forget gate: selective forget}\\
        g_t &= \tanh(W_{ig} x_t + W_{hg} h_{t-1} + b_g)   && \text{candidate content}\\
        o_t &= \sigma(W_{io} x_t + W_{ho} h_{t-1} + b_o)  && \text{output gate: selective read}\\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= o_t \odot \tanh(c_t), \qquad y_t = h_t

    Options:

    * ``peephole=True`` (Gers & Schmidhuber 2000): the gates also look at the cell state, through a
      diagonal weight: :math:`+\,p_i \odot c_{t-1}` in :math:`i_t`, :math:`+\,p_f \odot c_{t-1}` in
      :math:`f_t` and :math:`+\,p_o \odot c_t` in :math:`o_t`.
    * ``layer_norm=True`` (Ba, Kiros & Hinton 2016): the input and the recurrent pre-activations
      are normalised separately, :math:`\mathrm{LN}(W_i x_t) + \mathrm{LN}(W_h h_{t-1}) + b`, and
      the cell state is normalised before its tanh: :math:`h_t = o_t \odot \tanh(\mathrm{LN}(c_t))`.
    * ``forget_bias`` initialises :math:`b_f` (1.0 by default: the cell starts by remembering,
      Jozefowicz et al. 2015). It only sets the initial value, so weights still convert exactly.

    Gates are stacked in PyTorch's order (i, f, g, o), so weights copy to and from
    ``torch.nn.LSTM``.
    """

    num_gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        layer_norm: bool = False,
        peephole: bool = False,
        forget_bias: float = 1.0,
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.layer_norm = layer_norm
        self.peephole = peephole
        self.forget_bias = float(forget_bias)
        self.fused_mode = None if (layer_norm or peephole) else "LSTM"
        self._create_projections()
        if peephole:
            self.peephole_i = nn.Parameter(torch.empty(hidden_size))
            self.peephole_f = nn.Parameter(torch.empty(hidden_size))
            self.peephole_o = nn.Parameter(torch.empty(hidden_size))
        if layer_norm:
            # Gains only: the cell's own biases already shift the pre-activations.
            self.norm_input = nn.LayerNorm(4 * hidden_size, bias=False)
            self.norm_recurrent = nn.LayerNorm(4 * hidden_size, bias=False)
            self.norm_cell = nn.LayerNorm(hidden_size)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.bias:
            self.bias_ih[self.hidden_size : 2 * self.hidden_size] = self.forget_bias
        if self.peephole:
            for p in (self.peephole_i, self.peephole_f, self.peephole_o):
                nn.init.uniform_(p, -0.1, 0.1)
        if self.layer_norm:
            for norm in (self.norm_input, self.norm_recurrent, self.norm_cell):
                norm.reset_parameters()

    def initial_state(self, batch_size, device=None, dtype=None):
        zeros = super().initial_state
        return zeros(batch_size, device, dtype), zeros(batch_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        if not self.layer_norm:
            return super().project_input(x)
        xp = self.norm_input(x @ self.weight_ih.T)
        return xp if self.bias_ih is None else xp + self.bias_ih

    def project_recurrent(self, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        if not self.layer_norm:
            return super().project_recurrent(h, recurrent_mask)
        if recurrent_mask is not None:
            h = h * recurrent_mask
        hp = self.norm_recurrent(h @ self.weight_hh.T)
        return hp if self.bias_hh is None else hp + self.bias_hh

    def step(self, xp_t: Tensor, state: tuple[Tensor, Tensor], recurrent_mask=None):
        h_prev, c_prev = state
        a_i, a_f, a_g, a_o = (xp_t + self.project_recurrent(h_prev, recurrent_mask)).chunk(4, 1)
        if self.peephole:
            a_i = a_i + self.peephole_i * c_prev
            a_f = a_f + self.peephole_f * c_prev
        i = torch.sigmoid(a_i)  # how much of the candidate to write
        f = torch.sigmoid(a_f)  # how much of the old memory to keep
        g = torch.tanh(a_g)
        c = f * c_prev + i * g
        if self.peephole:
            a_o = a_o + self.peephole_o * c
        o = torch.sigmoid(a_o)  # how much of the memory to read out
        h = o * torch.tanh(self.norm_cell(c) if self.layer_norm else c)
        return h, (h, c)

    def extra_repr(self) -> str:
        options = [f"{k}=True" for k in ("layer_norm", "peephole") if getattr(self, k)]
        return ", ".join([super().extra_repr(), *options])
