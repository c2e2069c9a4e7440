"""The Bidirectional combinator equals Recurrent(bidirectional=True) with the same cells."""

import pytest
import torch

import rnnkit as rk
from rnnkit.layers import Bidirectional


def _split(layer: rk.Recurrent) -> tuple[rk.Recurrent, rk.Recurrent]:
    """Two one-direction layers holding copies of a bidirectional layer's cells."""
    halves = []
    for direction in range(2):
        half = rk.Recurrent(layer.kind, layer.input_size, layer.hidden_size)
        half.cells[0].load_state_dict(layer.cells[direction].state_dict())
        halves.append(half)
    return halves[0], halves[1]


@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_equals_bidirectional_recurrent(kind, merge):
    torch.manual_seed(0)
    layer = rk.Recurrent(kind, 3, 4, bidirectional=True, merge=merge)
    combinator = Bidirectional(*_split(layer), merge=merge)
    x = torch.randn(3, 5, 3)
    lengths = torch.tensor([5, 2, 4])
    expected, expected_state = layer(x, lengths)
    out, (forward_state, backward_state) = combinator(x, lengths)
    torch.testing.assert_close(out, expected)
    h = expected_state[0] if kind == "lstm" else expected_state
    h_forward = forward_state[0] if kind == "lstm" else forward_state
    h_backward = backward_state[0] if kind == "lstm" else backward_state
    torch.testing.assert_close(torch.cat([h_forward, h_backward]), h)


def test_directions_may_differ():
    torch.manual_seed(0)
    combinator = Bidirectional(rk.LSTM(3, 4), rk.GRU(3, 4, reset="before"), merge="sum")
    out, _ = combinator(torch.randn(2, 6, 3), torch.tensor([6, 3]))
    assert out.shape == (2, 6, 4)
    assert torch.all(out[1, 3:] == 0)


def test_rejects_bad_lengths_and_merge():
    with pytest.raises(ValueError, match="merge"):
        Bidirectional(rk.LSTM(3, 4), rk.LSTM(3, 4), merge="max")
    combinator = Bidirectional(rk.LSTM(3, 4), rk.LSTM(3, 4))
    with pytest.raises(ValueError, match="lengths"):
        combinator(torch.randn(2, 6, 3), torch.tensor([7, 3]))
