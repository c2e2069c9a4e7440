r"""The GRU's pointwise maths for the engine, both reset placements, forward and backward.

Forward, per step (gates stacked r, z, n as in PyTorch; ``xp`` already holds the input side)::

    reset="after":  s = W_hh h_in + b_hh                 one product for all three gates
                    r, z = sigmoid(xp_rz + s_rz)
                    n = tanh(xp_n + r s_n)
    reset="before": r, z = sigmoid(xp_rz + W_hrz h_in)   (b_hh is folded into xp)
                    q = r h_in
                    n = tanh(xp_n + W_hn q)              a second product, after the gates
    h = (1 - z) n + z h_prev  =  lerp(n, h_prev, z)

Backward, per step, with ``dh`` the gradient of this step's h::

    dh_prev = dh z,   da_z = dh (h_prev - n) z (1 - z),   da_n = dh (1 - z) (1 - n^2)
    after:  da_r = da_n s_n r (1 - r);  ds = [da_r, da_z, da_n r];  dh_in = ds @ W_hh
    before: dq = da_n @ W_hn;  da_r = dq h_in r (1 - r);  dh_in = dq r + da_rz @ W_hrz

Everything in those products that does not depend on ``dh`` is computed for all steps at once
before the backward loop, in the buffer that then receives the gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Kernel, tanh_
from .matmul import MatMul, linear, stacked_matmul


class GRUKernel(Kernel):
    saved = ("gates", "kept")

    @staticmethod
    def config(cell) -> tuple:
        return (cell.reset,)

    @staticmethod
    def weights(cell) -> list[Tensor]:
        # reset="after" keeps b_hh inside the step: r multiplies (W_hn h + b_hn)
        keep_bias = cell.reset == "after" and cell.bias_hh is not None
        return [cell.weight_hh, cell.bias_hh] if keep_bias else [cell.weight_hh]

    @staticmethod
    def project(cell, x: Tensor) -> Tensor:
        if cell.reset == "after":
            return linear(x, cell.weight_ih, cell.bias_ih)
        return Kernel.project(cell, x)

    def __init__(self, config, weights, steps, batch, saving):
        super().__init__(config, weights, steps, batch, saving)
        (self.reset,) = config
        self.w_hh = weights[0]
        self.b_hh = weights[1] if len(weights) > 1 else None
        self.hidden = hidden = self.w_hh.shape[1]
        w_rz, w_n = self.w_hh.split([2 * hidden, hidden])
        if self.reset == "after":
            self.product = MatMul(self.w_hh, batch)  # h_in @ W_hh^T
            self.back = MatMul(self.w_hh.T, batch)  # ds @ W_hh
        else:
            self.product_rz, self.product_n = MatMul(w_rz, batch), MatMul(w_n, batch)
            self.back_rz, self.back_n = MatMul(w_rz.T, batch), MatMul(w_n.T, batch)
        rows = steps if saving else 1
        self.gates = self.w_hh.new_empty(rows, batch, 3 * hidden)  # activated r, z, n
        # what r multiplies: s = W_hh h_in + b_hh (after), or q = r h_in (before)
        width = 3 * hidden if self.reset == "after" else hidden
        self.kept = self.w_hh.new_empty(rows, batch, width)

    def step(self, t, xp_t, h_in, prev, out):
        hidden = self.hidden
        row = t if self.saving else 0
        a, kept = self.gates[row], self.kept[row]
        r, z, n = a.chunk(3, 1)
        a_rz = a[:, : 2 * hidden]
        if self.reset == "after":
            s = kept
            self.product.into(s, h_in, self.b_hh)
            torch.add(xp_t[:, : 2 * hidden], s[:, : 2 * hidden], out=a_rz).sigmoid_()
            tanh_(torch.addcmul(xp_t[:, 2 * hidden :], r, s[:, 2 * hidden :], out=n))
        else:
            self.product_rz.into(a_rz, h_in, xp_t[:, : 2 * hidden]).sigmoid_()
            q = torch.mul(r, h_in, out=kept)
            tanh_(self.product_n.into(n, q, xp_t[:, 2 * hidden :]))
        torch.lerp(n, prev[0], z, out=out[0])

    def prepare_backward(self, h_in_all, prev_all, new_all):
        hidden = self.hidden
        r, z, n = self.gates.chunk(3, 2)
        # "after" keeps a 4th block for ds_n = da_n r, so that ds is one strided (B, 3H) operand
        blocks = 4 if self.reset == "after" else 3
        d = self.gates.new_empty(*self.gates.shape[:2], blocks * hidden)
        d_r, d_z, *_, d_n = d.chunk(blocks, 2)
        reset_input = self.kept[..., 2 * hidden :] if self.reset == "after" else h_in_all
        torch.mul(r - r * r, reset_input, out=d_r)  # times da_n (after) or dq (before)
        torch.mul(z - z * z, prev_all[0] - n, out=d_z)  # times dh
        torch.mul(1 - n * n, 1 - z, out=d_n)  # times dh
        self.d = d

    def step_backward(self, t, d_new, prev, new, d_prev):
        (dh,) = d_new
        hidden = self.hidden
        r, z, _ = self.gates[t].chunk(3, 1)
        d = self.d[t]
        d_prev[0].addcmul_(dh, z)
        if self.reset == "after":
            d_r, _, d_s_n, d_n = d.chunk(4, 1)
            d.view(-1, 4, hidden)[:, 1::2].mul_(dh.unsqueeze(1))  # da_z and da_n
            d_r.mul_(d_n)
            torch.mul(d_n, r, out=d_s_n)
            return None, d[:, : 3 * hidden], self.back
        d_r, _, d_n = d.chunk(3, 1)
        d[:, hidden:].view(-1, 2, hidden).mul_(dh.unsqueeze(1))  # da_z and da_n
        dq = self.back_n(d_n)
        d_r.mul_(dq)
        return dq * r, d[:, : 2 * hidden], self.back_rz

    def grads(self, h_in_all, prev_all, new_all, d_new_all):
        hidden = self.hidden
        d = self.d
        if self.reset == "after":
            d_s = d[..., : 3 * hidden]
            d_xp = torch.cat([d[..., : 2 * hidden], d[..., 3 * hidden :]], dim=2)
            grads = [stacked_matmul(d_s, h_in_all)]
            if self.b_hh is not None:
                grads.append(d_s.sum((0, 1)))
            return d_xp, grads
        d_w_rz = stacked_matmul(d[..., : 2 * hidden], h_in_all)
        d_w_n = stacked_matmul(d[..., 2 * hidden :], self.kept)
        return d, [torch.cat([d_w_rz, d_w_n])]
