"""The fused kernels (oneDNN/cuDNN) equal the reference loop wherever ``can_fuse`` allows them."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.unroll import can_fuse, fused_layer

I, H, B, T = 3, 4, 3, 6
LENGTHS = torch.tensor([6, 2, 4])
FUSABLE = {
    "lstm": lambda: rk.LSTMCell(I, H),
    "gru": lambda: rk.GRUCell(I, H),
    "rnn-tanh": lambda: rk.RNNCell(I, H),
    "rnn-relu": lambda: rk.RNNCell(I, H, nonlinearity="relu"),
    "lstm-no-bias": lambda: rk.LSTMCell(I, H, bias=False),
}


def random_state(cell):
    template = cell.initial_state(B, dtype=torch.float64)
    if isinstance(template, tuple):
        return tuple(torch.randn_like(s) for s in template)
    return torch.randn_like(template)


@pytest.mark.parametrize("kind", FUSABLE)
@pytest.mark.parametrize("directions", [1, 2])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_fused_equals_reference(randomise, kind, directions, with_lengths):
    cells = [randomise(FUSABLE[kind]().double()) for _ in range(directions)]
    assert can_fuse(cells)
    x = torch.randn(B, T, I, dtype=torch.float64)
    lengths = LENGTHS if with_lengths else None
    states = [random_state(cell) for cell in cells]
    out, finals = fused_layer(cells, x, lengths, states)
    for d, cell in enumerate(cells):
        want_out, want_final = rk.unroll(cell, x, lengths, states[d], reverse=d == 1)
        torch.testing.assert_close(out[..., d * H : (d + 1) * H], want_out)
        torch.testing.assert_close(finals[d], want_final)


def test_can_fuse():
    assert can_fuse([rk.LSTMCell(I, H), rk.LSTMCell(I, H)])
    assert not can_fuse([rk.LSTMCell(I, H, layer_norm=True)])
    assert not can_fuse([rk.LSTMCell(I, H, peephole=True)])
    assert not can_fuse([rk.GRUCell(I, H, reset="before")])
    assert not can_fuse([rk.LeakyCell(I, H)])
    assert not can_fuse([rk.RNNCell(I, H), rk.RNNCell(I, H, nonlinearity="relu")])
    assert not can_fuse([rk.LSTMCell(I, H), rk.LSTMCell(I, H, bias=False)])


def test_layer_uses_the_fused_kernel_only_when_it_may(monkeypatch):
    """Zoneout, training-mode recurrent dropout and dilation must run on the reference loop."""
    from rnnkit.layers import recurrent

    calls = []
    real = recurrent.fused_layer

    def spy(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(recurrent, "fused_layer", spy)
    x = torch.randn(B, T, I)
    for options, fused in [
        ({}, True),
        ({"zoneout": 0.1}, False),
        ({"dilation": 2}, False),
        ({"recurrent_dropout": 0.2}, False),  # training mode
    ]:
        calls.clear()
        rk.Recurrent("lstm", I, H, **options).train()(x)
        assert bool(calls) == fused, options
    calls.clear()
    rk.Recurrent("lstm", I, H, recurrent_dropout=0.2).eval()(x)
    assert calls  # no mask in eval: the fast path is fine
