r"""The LSTM's pointwise maths for the engine, forward and backward side by side.

Forward, per step (``a`` the pre-activations, gates stacked i, f, g, o as in PyTorch)::

    a = xp_t + W_hh h_in                   (layer_norm: xp_t + LN_r(W_hh h_in))
    i, f, o = sigmoid(a_i, a_f, a_o)       (peephole: + p_i c_prev, p_f c_prev, p_o c)
    g = tanh(a_g)
    c = f c_prev + i g
    h = o tanh(c)                          (layer_norm: o tanh(LN_c(c)))

Backward, per step, with ``dh``, ``dc`` the gradients of this step's h and c::

    da_o = dh tanh(c) o (1 - o)
    dc  += LN_c'(dh o (1 - tanh^2))        (+ p_o da_o with peepholes)
    da_i = dc g i (1 - i),  da_f = dc c_prev f (1 - f),  da_g = dc i (1 - g^2)
    dc_prev = dc f                         (+ p_i da_i + p_f da_f with peepholes)
    dh_in = LN_r'(da) @ W_hh

Every factor that does not depend on ``dh`` or ``dc`` (the activation derivatives times the other
gate) is computed for all steps at once before the backward loop, in the buffer that then receives
``da``: each step only multiplies in its upstream gradient, one op per gate group.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from .base import Kernel, tanh_, tanh_into
from .matmul import MatMul, linear, stacked_matmul

_layer_norm_backward = torch.ops.aten.native_layer_norm_backward


class LSTMKernel(Kernel):
    num_states = 2
    saved = ("gates", "tanh_c", "raw")

    @staticmethod
    def config(cell) -> tuple:
        eps = (cell.norm_recurrent.eps, cell.norm_cell.eps) if cell.layer_norm else (0.0, 0.0)
        return (cell.layer_norm, cell.peephole, *eps)

    @staticmethod
    def project(cell, x: Tensor) -> Tensor:
        if not cell.layer_norm:  # the plain W_ih x + b_ih + b_hh, one GEMM
            bias = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
            return linear(x, cell.weight_ih, bias)
        # LN_i(W_ih x) + b_ih + b_hh: the cell's project_input plus the recurrent bias, as one
        # GEMM on oneDNN and one layer norm whose shift is both biases (LN_i has none of its own)
        gain, shift, eps = LSTMKernel.loop_norm(cell)
        return F.layer_norm(LSTMKernel.project_before_norm(cell, x), gain.shape, gain, shift, eps)

    @staticmethod
    def loop_norm(cell) -> tuple[Tensor, Tensor, float] | None:
        if not cell.layer_norm:
            return None
        gain = cell.norm_input.weight
        shift = torch.zeros_like(gain) if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
        return gain, shift, cell.norm_input.eps

    @staticmethod
    def project_before_norm(cell, x: Tensor) -> Tensor:
        return linear(x, cell.weight_ih)

    @staticmethod
    def weights(cell) -> list[Tensor]:
        weights = [cell.weight_hh]
        if cell.peephole:
            weights += [cell.peephole_i, cell.peephole_f, cell.peephole_o]
        if cell.layer_norm:
            weights += [cell.norm_recurrent.weight, cell.norm_cell.weight, cell.norm_cell.bias]
        return weights

    def __init__(self, config, weights, steps, batch, saving):
        super().__init__(config, weights, steps, batch, saving)
        self.layer_norm, self.peephole, self.eps_r, self.eps_c = config
        self.w_hh, *rest = weights
        self.hidden = hidden = self.w_hh.shape[1]
        self.forward_product = MatMul(self.w_hh, batch)  # h_in @ W_hh^T
        self.backward_product = MatMul(self.w_hh.T, batch)  # da @ W_hh
        if self.peephole:
            self.peep_if = torch.stack(rest[:2])  # (2, H): i and f both look at c_prev
            self.peep_o = rest[2]
            rest = rest[3:]
        rows = steps if saving else 1  # inference reuses one row
        self.raw = None
        if self.layer_norm:
            self.gain_r, self.gain_c, self.bias_c = rest
            # W_hh h_in before LN_r, for LN_r's derivative (inference keeps nothing)
            self.raw = self.w_hh.new_empty(steps, batch, 4 * hidden) if saving else None
            self.stats_r, self.stats_c = [], []  # each step's (mean, rstd) of LN_r and LN_c
        self.gates = self.w_hh.new_empty(rows, batch, 4 * hidden)  # activated i, f, g, o
        self.tanh_c = self.w_hh.new_empty(rows, batch, hidden)

    def step(self, t, xp_t, h_in, prev, out):
        c_prev = prev[1]
        h_out, c_out = out
        hidden = self.hidden
        row = t if self.saving else 0
        a = self.gates[row]
        if self.layer_norm:
            s = self.forward_product(h_in)
            s_hat, mean, rstd = torch.native_layer_norm(
                s, (4 * hidden,), self.gain_r, None, self.eps_r
            )
            torch.add(xp_t, s_hat, out=a)
            if self.saving:
                self.raw[t].copy_(s)
                self.stats_r.append((mean, rstd))
        else:
            self.forward_product.into(a, h_in, xp_t)
        i, f, g, o = a.chunk(4, 1)
        a_if = a[:, : 2 * hidden]
        if self.peephole:
            a_if.view(-1, 2, hidden).addcmul_(self.peep_if, c_prev.unsqueeze(1))
        a_if.sigmoid_()
        tanh_(g)
        c = torch.mul(f, c_prev, out=c_out).addcmul_(i, g)
        if self.peephole:
            o.addcmul_(self.peep_o, c)
        o.sigmoid_()
        if self.layer_norm:
            m, mean, rstd = torch.native_layer_norm(
                c, (hidden,), self.gain_c, self.bias_c, self.eps_c
            )
            if self.saving:
                self.stats_c.append((mean, rstd))
            tc = tanh_into(m, self.tanh_c[row])
        else:
            tc = tanh_into(c, self.tanh_c[row])
        torch.mul(o, tc, out=h_out)

    def prepare_backward(self, h_in_all, prev_all, new_all):
        # Everything in da that does not depend on dh or dc, for all steps at once:
        #   da_i = dc [g i (1 - i)],  da_f = dc [c_prev f (1 - f)],  da_g = dc [i (1 - g^2)],
        #   da_o = dh [tanh(c) o (1 - o)],  and dh -> d(argument of the tanh): o (1 - tanh^2).
        # Each backward step then multiplies in dc or dh: one op per gate group.
        gates, tc = self.gates, self.tanh_c
        i, _, g, o = gates.chunk(4, 2)
        d = gates * gates
        torch.sub(gates, d, out=d)  # s (1 - s), in one buffer: it is the largest of the backward
        d_i, d_f, d_g, d_o = d.chunk(4, 2)
        d_i.mul_(g)
        d_f.mul_(prev_all[1])
        torch.mul(1 - g * g, i, out=d_g)
        d_o.mul_(tc)
        self.d_gates = d
        self.d_tanh = o * (1 - tc * tc)
        if self.layer_norm:  # filled by step_backward, from t = T-1 down
            self.d_raw = torch.empty_like(gates)  # d(W_hh h_in), through LN_r
            self.d_norm_c = torch.empty_like(tc)  # d LN_c(c)

    def step_backward(self, t, d_new, prev, new, d_prev):
        dh, dc = d_new
        hidden = self.hidden
        f = self.gates[t, :, hidden : 2 * hidden]
        da = self.d_gates[t]
        da_o = da[:, 3 * hidden :]
        da_o.mul_(dh)
        d_m = dh * self.d_tanh[t]
        if self.layer_norm:
            self.d_norm_c[t] = d_m
            mean, rstd = self.stats_c[t]
            d_m = _layer_norm_backward(
                d_m, new[1], (hidden,), mean, rstd, self.gain_c, self.bias_c, (True, False, False)
            )[0]
        dc.add_(d_m)
        if self.peephole:
            dc.addcmul_(self.peep_o, da_o)  # c also feeds o
        da[:, : 3 * hidden].view(-1, 3, hidden).mul_(dc.unsqueeze(1))  # da_i, da_f, da_g
        d_prev[1].addcmul_(dc, f)
        if self.peephole:  # c_prev also feeds i and f
            d_prev[1].add_((da[:, : 2 * hidden].view(-1, 2, hidden) * self.peep_if).sum(1))
        if not self.layer_norm:
            return None, da, self.backward_product
        mean, rstd = self.stats_r[t]
        d_s = self.d_raw[t]
        d_s[:] = _layer_norm_backward(
            da, self.raw[t], (4 * hidden,), mean, rstd, self.gain_r, None, (True, False, False)
        )[0]
        return None, d_s, self.backward_product

    def grads(self, h_in_all, prev_all, new_all, d_new_all):
        hidden = self.hidden
        da = self.d_gates
        del self.d_tanh, self.d_gates  # da goes on as the input's gradient; the rest is not needed
        d_s = self.d_raw if self.layer_norm else da
        grads = [stacked_matmul(d_s, h_in_all)]
        if self.peephole:
            steps, batch = da.shape[:2]
            da_if = da[..., : 2 * hidden].reshape(steps, batch, 2, hidden)
            g_if = (da_if * prev_all[1].unsqueeze(2)).sum((0, 1))
            grads += [g_if[0], g_if[1], (da[..., 3 * hidden :] * new_all[1]).sum((0, 1))]
        if self.layer_norm:  # the norms' gains and bias: each one call over all steps and rows
            grads.append(
                _layer_norm_backward(
                    da, self.raw, (4 * hidden,), *_stacked(self.stats_r), self.gain_r, None,
                    (False, True, False),
                )[1]
            )  # fmt: skip
            grads += _layer_norm_backward(
                self.d_norm_c, new_all[1], (hidden,), *_stacked(self.stats_c), self.gain_c,
                self.bias_c, (False, True, True),
            )[1:]  # fmt: skip
        return da, grads


def _stacked(stats: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """Each step's ``(mean, rstd)`` as two ``(T, B, 1)`` tensors."""
    mean, rstd = (torch.stack(s) for s in zip(*stats, strict=True))
    return mean, rstd
