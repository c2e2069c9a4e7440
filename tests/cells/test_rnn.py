"""RNNCell (Elman): the equation written out, torch.nn.RNNCell equivalence, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit as rk

I, H, B = 3, 4, 5
f64 = torch.float64


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_closed_form(randomise, nonlinearity):
    cell = randomise(rk.RNNCell(I, H, nonlinearity=nonlinearity).double())
    x, h = torch.randn(B, I, dtype=f64), torch.randn(B, H, dtype=f64)
    pre = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    want = torch.tanh(pre) if nonlinearity == "tanh" else pre.clamp(min=0)
    y, h1 = cell(x, h)
    torch.testing.assert_close(h1, want)
    assert y is h1
    if nonlinearity == "relu":
        assert (h1 == 0).any() and (h1 > 0).any()


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_equals_torch_rnn_cell(nonlinearity):
    reference = nn.RNNCell(I, H, nonlinearity=nonlinearity)
    cell = rk.RNNCell(I, H, nonlinearity=nonlinearity)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(reference, name))
    x, h = torch.randn(B, I), torch.randn(B, H)
    torch.testing.assert_close(cell(x, h)[1], reference(x, h), atol=1e-6, rtol=1e-5)


def test_fused_modes():
    assert rk.RNNCell(I, H).fused_mode == "RNN_TANH"
    assert rk.RNNCell(I, H, nonlinearity="relu").fused_mode == "RNN_RELU"


def test_relu_starts_from_the_identity():
    """IRNN (Le et al. 2015): with zero input a relu cell carries a positive state unchanged."""
    cell = rk.RNNCell(I, H, nonlinearity="relu")
    assert torch.equal(cell.weight_hh.detach(), torch.eye(H))
    h = torch.rand(B, H)
    torch.testing.assert_close(cell(torch.zeros(B, I), h)[1], h)


def test_tanh_recurrent_weight_is_orthogonal():
    w = rk.RNNCell(I, H).weight_hh.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(H), atol=1e-5, rtol=0)


def test_bad_nonlinearity():
    with pytest.raises(ValueError, match=r"nonlinearity must be one of \['relu', 'tanh'\].*'gelu'"):
        rk.RNNCell(I, H, nonlinearity="gelu")
