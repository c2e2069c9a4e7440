"""Cells that compose a node's state from its children's (recursive networks).

Every cell computes a whole set of nodes at once: ``cell(x, children) -> state`` with ``x (n, I)``
the nodes' own inputs (zeros for nodes without a token) and ``children (n, K, H)`` their children's
hidden states (a pair ``(h, c)`` of them for the TreeLSTMs), zero rows standing for missing
children. A leaf is simply a node whose children are all missing.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RecursiveRNNCell(nn.Module):
    r"""The recursive Elman cell (Pollack 1990; Socher et al. 2011), for up to ``arity`` children:

    .. math:: h = \tanh(W_x x + W [h_1; \dots; h_K] + b)

    For a binary internal node without input this is the lecture's composition
    :math:`\tanh(W[h_l; h_r] + b)`; for a leaf, :math:`\tanh(W_x x + b)`.
    """

    lstm = False

    def __init__(self, input_size: int, hidden_size: int, arity: int = 2) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.arity = input_size, hidden_size, arity
        self.input_proj = nn.Linear(input_size, hidden_size, bias=False)
        self.compose = nn.Linear(arity * hidden_size, hidden_size)

    def forward(self, x: Tensor, children: Tensor) -> Tensor:
        return torch.tanh(self.input_proj(x) + self.compose(children.flatten(1)))


class ChildSumTreeLSTMCell(nn.Module):
    r"""Child-Sum TreeLSTM (Tai, Socher & Manning 2015), for any number of unordered children:

    .. math::
        \tilde h &= \textstyle\sum_k h_k \\
        i &= \sigma(W_i x + U_i \tilde h + b_i), \quad o = \sigma(W_o x + U_o \tilde h + b_o), \quad
        u = \tanh(W_u x + U_u \tilde h + b_u) \\
        f_k &= \sigma(W_f x + U_f h_k + b_f) \qquad \text{(one forget gate per child)} \\
        c &= i \odot u + \textstyle\sum_k f_k \odot c_k, \qquad h = o \odot \tanh(c)
    """

    lstm = True
    arity = None  # any number of children

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.input_proj = nn.Linear(input_size, 4 * hidden_size)  # i, o, u, f
        self.iou_proj = nn.Linear(hidden_size, 3 * hidden_size, bias=False)
        self.forget_proj = nn.Linear(hidden_size, hidden_size, bias=False)

    def forward(self, x: Tensor, children: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        child_h, child_c = children  # (n, K, H) each
        x_iou, x_f = self.input_proj(x).split([3 * self.hidden_size, self.hidden_size], dim=-1)
        i, o, u = (x_iou + self.iou_proj(child_h.sum(1))).chunk(3, dim=-1)
        f = torch.sigmoid(x_f.unsqueeze(1) + self.forget_proj(child_h))  # (n, K, H)
        c = torch.sigmoid(i) * torch.tanh(u) + (f * child_c).sum(1)
        return torch.sigmoid(o) * torch.tanh(c), c


class NaryTreeLSTMCell(nn.Module):
    r"""N-ary TreeLSTM (Tai et al. 2015) for ordered children, at most ``arity`` (2: binary trees):

    .. math::
        g &= W_g x + \textstyle\sum_{l=1}^{N} U_g^{(l)} h_l + b_g
            \quad \text{for } g \in \{i, o, u\}, \qquad
        f_k = \sigma(W_f x + \textstyle\sum_{l=1}^{N} U_f^{(kl)} h_l + b_f) \\
        c &= \sigma(i) \odot \tanh(u) + \textstyle\sum_{l} f_l \odot c_l, \qquad
        h = \sigma(o) \odot \tanh(c)

    Each child position has its own weights, so a left child is treated unlike a right one.
    """

    lstm = True

    def __init__(self, input_size: int, hidden_size: int, arity: int = 2) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.arity = input_size, hidden_size, arity
        self.input_proj = nn.Linear(input_size, (3 + arity) * hidden_size)
        self.child_proj = nn.Linear(arity * hidden_size, (3 + arity) * hidden_size, bias=False)

    def forward(self, x: Tensor, children: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        child_h, child_c = children  # (n, N, H)
        gates = self.input_proj(x) + self.child_proj(child_h.flatten(1))
        i, o, u, f = gates.split([self.hidden_size] * 3 + [self.arity * self.hidden_size], dim=-1)
        f = torch.sigmoid(f.view(-1, self.arity, self.hidden_size))
        c = torch.sigmoid(i) * torch.tanh(u) + (f * child_c).sum(1)
        return torch.sigmoid(o) * torch.tanh(c), c
