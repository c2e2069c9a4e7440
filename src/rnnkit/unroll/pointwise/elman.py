r"""Pointwise maths of the one-gate cells for the engine: Elman and leaky units.

Elman::   h = phi(xp_t + W_hh h_in);            dh_in = (dh phi'(a)) @ W_hh
Leaky::   u = tanh(xp_t + W_hh h_in)
          h = a h_prev + (1 - a) u = lerp(u, h_prev, a)
          dh_prev = dh a;  da_u = dh (1 - a)(1 - u^2);  dh_in = da_u @ W_hh
          d rate = sum over steps and rows of dh (h_prev - u)

``phi'`` (``1 - h^2`` for tanh, ``h > 0`` for relu) is read off the outputs for all steps at
once before the backward loop, in the buffer that then receives the gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Kernel, tanh_
from .matmul import MatMul, stacked_matmul


class ElmanKernel(Kernel):
    @staticmethod
    def config(cell) -> tuple:
        return (cell.nonlinearity,)

    @staticmethod
    def weights(cell) -> list[Tensor]:
        return [cell.weight_hh]

    def __init__(self, config, weights, steps, batch, saving):
        super().__init__(config, weights, steps, batch, saving)
        (self.nonlinearity,) = config
        self.w_hh = weights[0]
        self.product, self.back = MatMul(self.w_hh, batch), MatMul(self.w_hh.T, batch)

    def step(self, t, xp_t, h_in, prev, out):
        h = self.product.into(out[0], h_in, xp_t)
        if self.nonlinearity == "tanh":
            tanh_(h)
        else:
            h.relu_()

    def prepare_backward(self, h_in_all, prev_all, new_all):
        h = new_all[0]
        self.d = 1 - h * h if self.nonlinearity == "tanh" else (h > 0).to(h.dtype)

    def step_backward(self, t, d_new, prev, new, d_prev):
        return None, self.d[t].mul_(d_new[0]), self.back

    def grads(self, h_in_all, prev_all, new_all, d_new_all):
        return self.d, [stacked_matmul(self.d, h_in_all)]


class LeakyKernel(Kernel):
    saved = ("candidate",)

    @staticmethod
    def weights(cell) -> list[Tensor]:
        return [cell.weight_hh, cell.rate]  # the rate's sigmoid is left to autograd

    def __init__(self, config, weights, steps, batch, saving):
        super().__init__(config, weights, steps, batch, saving)
        self.w_hh, self.rate = weights
        self.product, self.back = MatMul(self.w_hh, batch), MatMul(self.w_hh.T, batch)
        rows = steps if saving else 1
        self.candidate = self.w_hh.new_empty(rows, batch, self.w_hh.shape[1])

    def step(self, t, xp_t, h_in, prev, out):
        u = self.candidate[t if self.saving else 0]
        tanh_(self.product.into(u, h_in, xp_t))
        torch.lerp(u, prev[0], self.rate, out=out[0])

    def prepare_backward(self, h_in_all, prev_all, new_all):
        u = self.candidate
        self.d = (1 - u * u) * (1 - self.rate)

    def step_backward(self, t, d_new, prev, new, d_prev):
        (dh,) = d_new
        d_prev[0].addcmul_(dh, self.rate)
        return None, self.d[t].mul_(dh), self.back

    def grads(self, h_in_all, prev_all, new_all, d_new_all):
        d_rate = (d_new_all[0] * (prev_all[0] - self.candidate)).sum((0, 1))
        return self.d, [stacked_matmul(self.d, h_in_all), d_rate]
