"""GRUCell: both reset placements written out, torch.nn.GRUCell equivalence, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit as rk

I, H, B = 3, 4, 5
f64 = torch.float64


def sigmoid(v):
    return 1 / (1 + torch.exp(-v))


def blocks(weight):
    return weight[:H], weight[H : 2 * H], weight[2 * H :]


def closed_form(cell, x, h, reset):
    W_ir, W_iz, W_in = blocks(cell.weight_ih)
    W_hr, W_hz, W_hn = blocks(cell.weight_hh)
    b_ir, b_iz, b_in = blocks(cell.bias_ih)
    b_hr, b_hz, b_hn = blocks(cell.bias_hh)
    r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    if reset == "after":
        n = torch.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    else:  # the lecture's tanh(W [r * h, x])
        n = torch.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    return (1 - z) * n + z * h  # z is the share of the old state kept (PyTorch's convention)


@pytest.mark.parametrize("reset", ["after", "before"])
def test_closed_form(randomise, reset):
    cell = randomise(rk.GRUCell(I, H, reset=reset).double())
    x, h = torch.randn(B, I, dtype=f64), torch.randn(B, H, dtype=f64)
    y, h1 = cell(x, h)
    torch.testing.assert_close(h1, closed_form(cell, x, h, reset))
    assert y is h1


@pytest.mark.parametrize("reset", ["after", "before"])
def test_without_bias(randomise, reset):
    cell = randomise(rk.GRUCell(I, H, reset=reset, bias=False).double())
    assert cell.bias_ih is None and cell.bias_hh is None
    x, h = torch.randn(B, I, dtype=f64), torch.randn(B, H, dtype=f64)
    _, h1 = cell(x, h)
    with_zero_bias = rk.GRUCell(I, H, reset=reset).double()
    with torch.no_grad():
        with_zero_bias.weight_ih.copy_(cell.weight_ih)
        with_zero_bias.weight_hh.copy_(cell.weight_hh)
    torch.testing.assert_close(h1, with_zero_bias(x, h)[1])


def test_reset_before_differs_from_after_with_the_same_parameters(randomise):
    after = randomise(rk.GRUCell(I, H, reset="after").double())
    before = rk.GRUCell(I, H, reset="before").double()
    before.load_state_dict(after.state_dict())  # strict: same names and shapes
    x, h = torch.randn(B, I, dtype=f64), torch.randn(B, H, dtype=f64)
    assert not torch.allclose(after(x, h)[1], before(x, h)[1])
    # from a zero state the two placements agree exactly when b_hn = 0 (r * 0 = W (r * 0))
    with torch.no_grad():
        after.bias_hh[2 * H :] = 0
        before.bias_hh[2 * H :] = 0
    zero = torch.zeros(B, H, dtype=f64)
    torch.testing.assert_close(after(x, zero)[1], before(x, zero)[1])


def test_fused_mode_only_for_reset_after():
    assert rk.GRUCell(I, H).fused_mode == "GRU"
    assert rk.GRUCell(I, H, reset="before").fused_mode is None


def test_equals_torch_gru_cell():
    reference = nn.GRUCell(I, H)
    cell = rk.GRUCell(I, H)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(reference, name))
    x, h = torch.randn(B, I), torch.randn(B, H)
    torch.testing.assert_close(cell(x, h)[1], reference(x, h), atol=1e-6, rtol=1e-5)


def test_none_state_means_zeros(randomise):
    cell = randomise(rk.GRUCell(I, H).double())
    x = torch.randn(B, I, dtype=f64)
    torch.testing.assert_close(cell(x)[1], cell(x, torch.zeros(B, H, dtype=f64))[1])


def test_bad_reset():
    with pytest.raises(ValueError, match=r"reset must be one of \('after', 'before'\).*'middle'"):
        rk.GRUCell(I, H, reset="middle")


def test_bad_state():
    with pytest.raises(TypeError, match=r"GRUCell: state must be a Tensor.*tuple"):
        rk.GRUCell(I, H)(torch.zeros(B, I), (torch.zeros(B, H), torch.zeros(B, H)))
    with pytest.raises(ValueError, match=r"state must have shape \(5, 4\), got \(5, 3\)"):
        rk.GRUCell(I, H)(torch.zeros(B, I), torch.zeros(B, 3))
