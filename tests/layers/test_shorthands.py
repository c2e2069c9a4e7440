"""``rk.LSTM``, ``rk.GRU``, ``rk.RNN`` are ``Recurrent`` with the kind fixed."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk


@pytest.mark.parametrize(
    ("cls", "kind", "cell"),
    [(rk.LSTM, "lstm", rk.LSTMCell), (rk.GRU, "gru", rk.GRUCell), (rk.RNN, "rnn", rk.RNNCell)],
)
def test_shorthand_is_recurrent_of_its_kind(cls, kind, cell):
    layer = cls(3, 4, num_layers=2, bidirectional=True)
    assert isinstance(layer, rk.Recurrent) and layer.kind == kind
    assert all(type(c) is cell for c in layer.cells)
    twin = rk.Recurrent(kind, 3, 4, num_layers=2, bidirectional=True)
    twin.load_state_dict(layer.state_dict())
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(layer(x)[0], twin(x)[0])


def test_shorthands_pass_cell_options():
    assert rk.LSTM(3, 4, peephole=True).cells[0].peephole
    assert rk.GRU(3, 4, reset="before").cells[0].reset == "before"
    assert rk.RNN(3, 4, nonlinearity="relu").cells[0].nonlinearity == "relu"
    with pytest.raises(TypeError, match="reset"):
        rk.LSTM(3, 4, reset="before")
