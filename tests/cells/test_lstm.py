"""LSTMCell: the equations written out, torch.nn.LSTMCell equivalence, options, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit as rk

I, H, B = 3, 4, 5
f64 = torch.float64


def sigmoid(v):
    return 1 / (1 + torch.exp(-v))


def gates(cell, x, h):
    """The four pre-activation blocks (i, f, g, o), each W_i x + b_i + W_h h + b_h."""
    a = x @ cell.weight_ih.T + h @ cell.weight_hh.T
    if cell.bias:
        a = a + cell.bias_ih + cell.bias_hh
    return a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]


def inputs():
    return torch.randn(B, I, dtype=f64), torch.randn(B, H, dtype=f64), torch.randn(B, H, dtype=f64)


@pytest.mark.parametrize("bias", [True, False])
def test_closed_form(randomise, bias):
    cell = randomise(rk.LSTMCell(I, H, bias=bias).double())
    x, h, c = inputs()
    y, (h1, c1) = cell(x, (h, c))
    a_i, a_f, a_g, a_o = gates(cell, x, h)
    c_want = sigmoid(a_f) * c + sigmoid(a_i) * torch.tanh(a_g)
    h_want = sigmoid(a_o) * torch.tanh(c_want)
    torch.testing.assert_close(c1, c_want)
    torch.testing.assert_close(h1, h_want)
    assert y is h1


def test_peephole_closed_form(randomise):
    cell = randomise(rk.LSTMCell(I, H, peephole=True).double())
    x, h, c = inputs()
    _, (h1, c1) = cell(x, (h, c))
    a_i, a_f, a_g, a_o = gates(cell, x, h)
    i = sigmoid(a_i + cell.peephole_i * c)
    f = sigmoid(a_f + cell.peephole_f * c)
    c_want = f * c + i * torch.tanh(a_g)
    o = sigmoid(a_o + cell.peephole_o * c_want)  # the output gate looks at the new c
    torch.testing.assert_close(c1, c_want)
    torch.testing.assert_close(h1, o * torch.tanh(c_want))


def layer_norm(v, gain, shift=None, eps=1e-5):
    mean = v.mean(-1, keepdim=True)
    var = ((v - mean) ** 2).mean(-1, keepdim=True)  # biased variance, as Ba et al.
    out = (v - mean) / torch.sqrt(var + eps) * gain
    return out if shift is None else out + shift


def test_layer_norm_closed_form(randomise):
    """Ba et al. 2016: LN(W_i x) + LN(W_h h) + b over all four gates, and h = o * tanh(LN(c))."""
    cell = randomise(rk.LSTMCell(I, H, layer_norm=True).double())
    x, h, c = inputs()
    _, (h1, c1) = cell(x, (h, c))
    a = (
        layer_norm(x @ cell.weight_ih.T, cell.norm_input.weight)
        + layer_norm(h @ cell.weight_hh.T, cell.norm_recurrent.weight)
        + cell.bias_ih
        + cell.bias_hh
    )
    a_i, a_f, a_g, a_o = a.split(H, dim=1)
    c_want = sigmoid(a_f) * c + sigmoid(a_i) * torch.tanh(a_g)
    h_want = sigmoid(a_o) * torch.tanh(
        layer_norm(c_want, cell.norm_cell.weight, cell.norm_cell.bias)
    )
    torch.testing.assert_close(c1, c_want)  # the carried c is not normalised
    torch.testing.assert_close(h1, h_want)


def test_layer_norm_makes_the_cell_invariant_to_weight_scale():
    """Normalised pre-activations do not change when W_ih and W_hh are scaled (a property that
    only holds if both are normalised, and separately)."""
    cell = rk.LSTMCell(I, H, layer_norm=True).double()
    x, h, c = inputs()
    _, (h1, c1) = cell(x, (h, c))
    with torch.no_grad():
        cell.weight_ih.mul_(7.0)
        cell.weight_hh.mul_(3.0)
    _, (h2, c2) = cell(x, (h, c))
    torch.testing.assert_close(h1, h2, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(c1, c2, atol=1e-4, rtol=1e-4)


def test_layer_norm_parameters():
    cell = rk.LSTMCell(I, H, layer_norm=True)
    assert cell.norm_input.weight.shape == (4 * H,) and cell.norm_input.bias is None
    assert cell.norm_recurrent.weight.shape == (4 * H,) and cell.norm_recurrent.bias is None
    assert cell.norm_cell.weight.shape == (H,) and cell.norm_cell.bias.shape == (H,)
    assert cell.fused_mode is None
    assert rk.LSTMCell(I, H, peephole=True).fused_mode is None
    assert rk.LSTMCell(I, H).fused_mode == "LSTM"


@pytest.mark.parametrize("forget_bias", [1.0, 0.0, 2.5])
def test_forget_bias_sets_the_initial_forget_bias(forget_bias):
    cell = rk.LSTMCell(I, H, forget_bias=forget_bias)
    expected = torch.zeros(4 * H)
    expected[H : 2 * H] = forget_bias
    assert torch.equal(cell.bias_ih.detach(), expected)
    assert torch.equal(cell.bias_hh.detach(), torch.zeros(4 * H))
    # with zero weights, the forget gate is exactly sigmoid(forget_bias)
    with torch.no_grad():
        cell.weight_ih.zero_()
        cell.weight_hh.zero_()
    c = torch.ones(1, H)
    _, (_, c1) = cell(torch.zeros(1, I), (torch.zeros(1, H), c))
    torch.testing.assert_close(c1, torch.sigmoid(torch.tensor(forget_bias)).expand(1, H))


def test_forget_bias_survives_reset_parameters():
    cell = rk.LSTMCell(I, H, forget_bias=3.0)
    with torch.no_grad():
        cell.bias_ih.zero_()
    cell.reset_parameters()
    assert cell.bias_ih[H : 2 * H].eq(3.0).all()


def test_equals_torch_lstm_cell():
    reference = nn.LSTMCell(I, H)
    cell = rk.LSTMCell(I, H)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(reference, name))
    x, h, c = (t.float() for t in inputs())
    want_h, want_c = reference(x, (h, c))
    _, (got_h, got_c) = cell(x, (h, c))
    torch.testing.assert_close(got_h, want_h, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got_c, want_c, atol=1e-6, rtol=1e-5)
    assert [n for n, _ in cell.named_parameters()] == [n for n, _ in reference.named_parameters()]


def test_none_state_means_zeros(randomise):
    cell = randomise(rk.LSTMCell(I, H).double())
    x = torch.randn(B, I, dtype=f64)
    zeros = (torch.zeros(B, H, dtype=f64), torch.zeros(B, H, dtype=f64))
    got, want = cell(x), cell(x, zeros)
    torch.testing.assert_close(got[1], want[1])
    state = cell.initial_state(B, dtype=f64)
    assert isinstance(state, tuple) and all(s.shape == (B, H) and s.eq(0).all() for s in state)
    assert all(s.dtype == f64 for s in state)


def test_initialisation():
    """Recurrent weights orthogonal per gate block; input weights bounded by Glorot's limit."""
    cell = rk.LSTMCell(I, H)
    for block in cell.weight_hh.detach().chunk(4, 0):
        torch.testing.assert_close(block @ block.T, torch.eye(H), atol=1e-5, rtol=0)
    limit = (6 / (I + H)) ** 0.5
    assert cell.weight_ih.abs().max() <= limit


@pytest.mark.parametrize(
    ("state", "error", "match"),
    [
        (torch.zeros(B, H), TypeError, r"LSTMCell: state must be a tuple of 2 tensors"),
        ((torch.zeros(B, H),), TypeError, r"state must be a tuple of 2"),
        ((torch.zeros(B, H), torch.zeros(B + 1, H)), ValueError, r"state\[1\].*\(5, 4\).*\(6, 4\)"),
        ((torch.zeros(B, H + 1), torch.zeros(B, H)), ValueError, r"state\[0\]"),
    ],
    ids=["tensor", "1-tuple", "batch", "hidden"],
)
def test_bad_state(state, error, match):
    with pytest.raises(error, match=match):
        rk.LSTMCell(I, H)(torch.zeros(B, I), state)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (
            torch.zeros(B, I + 1),
            ValueError,
            r"x_t must have shape \(batch, input_size=3\).*\(5, 4\)",
        ),
        (torch.zeros(2, B, I), ValueError, r"x_t must have shape"),
        ([[0.0] * I], TypeError, r"x_t must be a Tensor.*list"),
        (torch.zeros(B, I, dtype=torch.long), TypeError, r"x_t must be a floating-point.*int64"),
    ],
    ids=["features", "rank", "list", "int"],
)
def test_bad_input(x, error, match):
    with pytest.raises(error, match=match):
        rk.LSTMCell(I, H)(x)
