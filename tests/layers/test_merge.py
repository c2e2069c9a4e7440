"""Merge modes of a bidirectional layer are functions of the concatenated output."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.layers import MERGES
from rnnkit.layers.merge import check_merge, merged_size

from .test_recurrent import randomise

I, H, B, T = 3, 4, 3, 5
LENGTHS = torch.tensor([5, 1, 3])


def test_merge_functions():
    a, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -4.0]])
    assert MERGES["concat"](a, b).tolist() == [[1.0, 2.0, 3.0, -4.0]]
    assert MERGES["sum"](a, b).tolist() == [[4.0, -2.0]]
    assert MERGES["mul"](a, b).tolist() == [[3.0, -8.0]]
    assert MERGES["ave"](a, b).tolist() == [[2.0, -1.0]]
    assert [merged_size(m, H) for m in ("concat", "sum", "mul", "ave")] == [2 * H, H, H, H]
    with pytest.raises(ValueError, match=r"merge must be one of \['concat', 'sum', 'mul', 'ave'\]"):
        check_merge("max")


@pytest.mark.parametrize("kind", ["lstm", "gru", "leaky"])  # fused and reference paths
@pytest.mark.parametrize("num_layers", [1, 2])
def test_merges_computed_from_the_concat_output(kind, num_layers):
    concat = randomise(rk.Recurrent(kind, I, H, num_layers=num_layers, bidirectional=True)).eval()
    x = torch.randn(B, T, I)
    out, state = concat(x, LENGTHS)
    assert out.shape == (B, T, 2 * H) and concat.output_size == 2 * H
    forward, backward = out[..., :H], out[..., H:]
    want = {"sum": forward + backward, "mul": forward * backward, "ave": (forward + backward) / 2}
    for merge, expected in want.items():
        layer = rk.Recurrent(kind, I, H, num_layers=num_layers, bidirectional=True, merge=merge)
        layer.load_state_dict(concat.state_dict())
        got, got_state = layer.eval()(x, LENGTHS)
        assert layer.output_size == H
        torch.testing.assert_close(got, expected)
        torch.testing.assert_close(got_state, state)
        assert got[1, 1:].eq(0).all()


def test_merge_is_ignored_without_a_backward_direction():
    a = rk.Recurrent("gru", I, H, merge="sum")
    assert a.output_size == H
    b = rk.Recurrent("gru", I, H)
    b.load_state_dict(a.state_dict())
    x = torch.randn(B, T, I)
    torch.testing.assert_close(a(x)[0], b(x)[0])


def test_residual_after_a_merge_projects_to_the_merged_size():
    rnn = rk.Recurrent("lstm", H, H, bidirectional=True, merge="sum", residual=True)
    assert isinstance(rnn.skips[0], torch.nn.Identity)  # H in, H out after the sum
    rnn = rk.Recurrent("lstm", H, H, bidirectional=True, residual=True)
    assert rnn.skips[0].weight.shape == (2 * H, H)
