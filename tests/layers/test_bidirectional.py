"""``Bidirectional``: any two layers in opposite directions, each reversed within its length."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk

from .test_recurrent import randomise

I, H, B, T = 3, 4, 3, 5
LENGTHS = torch.tensor([5, 2, 4])


@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave"])
def test_equals_a_bidirectional_recurrent(merge):
    """Two one-way layers with the weights of a bidirectional layer give its output and state."""
    both = randomise(rk.Recurrent("gru", I, H, bidirectional=True, merge=merge))
    forward, backward = rk.Recurrent("gru", I, H), rk.Recurrent("gru", I, H)
    forward.cells[0].load_state_dict(both.cells[0].state_dict())
    backward.cells[0].load_state_dict(both.cells[1].state_dict())
    combined = rk.Bidirectional(forward, backward, merge=merge)
    x = torch.randn(B, T, I)
    want, want_state = both(x, LENGTHS)
    got, (state_f, state_b) = combined(x, LENGTHS)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(torch.cat([state_f, state_b]), want_state)


def test_different_kinds(manual):
    forward = randomise(rk.Recurrent("lstm", I, H, layer_norm=True).double())
    backward = randomise(rk.Recurrent("leaky", I, H).double())
    x = torch.randn(B, T, I, dtype=torch.float64)
    out, (state_f, state_b) = rk.Bidirectional(forward, backward)(x, LENGTHS)
    want_f, want_state_f = manual.recurrent(forward, x, LENGTHS.tolist())
    flipped = torch.stack(
        [torch.cat([x[b, :n].flip(0), x[b, n:]]) for b, n in enumerate(LENGTHS.tolist())]
    )
    want_b, want_state_b = manual.recurrent(backward, flipped, LENGTHS.tolist())
    want_b = torch.stack(
        [torch.cat([want_b[b, :n].flip(0), want_b[b, n:]]) for b, n in enumerate(LENGTHS.tolist())]
    )
    torch.testing.assert_close(out, torch.cat([want_f, want_b], dim=-1))
    torch.testing.assert_close(state_f, want_state_f)
    torch.testing.assert_close(state_b, want_state_b)


def test_errors():
    with pytest.raises(ValueError, match="merge"):
        rk.Bidirectional(rk.GRU(I, H), rk.GRU(I, H), merge="max")
    with pytest.raises(ValueError, match=r"Bidirectional: lengths"):
        rk.Bidirectional(rk.GRU(I, H), rk.GRU(I, H))(torch.randn(B, T, I), torch.tensor([1, 2]))
