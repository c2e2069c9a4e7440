"""What all cells share: sizes, initial states, the cell registry, option checks, custom cells."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit as rk
from rnnkit.cells import CELL_KINDS, make_cell, resolve_cell_class
from rnnkit.cells.base import check_state_like, uniform_time_scales


@pytest.mark.parametrize("kind", sorted(CELL_KINDS))
def test_project_input_then_step_is_forward(randomise, kind):
    cell = randomise(make_cell(kind, 3, 4).double())
    x = torch.randn(2, 3, dtype=torch.float64)
    state = cell.initial_state(2, dtype=torch.float64)
    y, new = cell(x, state)
    y2, new2 = cell.step(cell.project_input(x), state)
    torch.testing.assert_close(y, y2)
    torch.testing.assert_close(new, new2)
    # project_input works on any leading shape: one GEMM for all time steps
    xs = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(cell.project_input(xs)[:, 2], cell.project_input(xs[:, 2]))


@pytest.mark.parametrize("kind", sorted(CELL_KINDS))
def test_initial_state_dtype_device_shape(kind):
    cell = make_cell(kind, 3, 4)
    state = cell.initial_state(6, device="cpu", dtype=torch.float64)
    parts = state if isinstance(state, tuple) else (state,)
    assert len(parts) == (2 if kind == "lstm" else 1)
    for p in parts:
        assert p.shape == (6, 4) and p.dtype == torch.float64 and p.eq(0).all()
    assert cell.output_of(state) is parts[0]


def test_resolve_cell_class():
    assert resolve_cell_class("lstm") is rk.LSTMCell
    assert resolve_cell_class("GRU") is rk.GRUCell
    assert resolve_cell_class(rk.LeakyCell) is rk.LeakyCell
    with pytest.raises(ValueError, match=r"cell kind must be one of \['gru', 'leaky'.*'tcn'"):
        resolve_cell_class("tcn")
    with pytest.raises(ValueError, match="cell kind"):
        resolve_cell_class(nn.Linear)


def test_make_cell_names_unknown_options_and_lists_valid_ones():
    with pytest.raises(TypeError, match=r"GRUCell got unknown option\(s\) \['peephole'\].*'reset'"):
        make_cell("gru", 3, 4, peephole=True)
    cell = make_cell("lstm", 3, 4, peephole=True, forget_bias=0.5)
    assert cell.peephole and cell.bias_ih[4:8].eq(0.5).all()


@pytest.mark.parametrize("cls", [rk.LSTMCell, rk.GRUCell, rk.RNNCell, rk.LeakyCell])
@pytest.mark.parametrize(
    ("sizes", "match"),
    [
        ((0, 4), "input_size"),
        ((3, 0), "hidden_size"),
        ((3.0, 4), "input_size"),
        ((3, True), "hidden_size"),
    ],
)
def test_bad_sizes(cls, sizes, match):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: {match} must be a positive int"):
        cls(*sizes)


def test_check_state_like_names_the_part():
    expected = (torch.zeros(2, 3), torch.zeros(2, 3))
    check_state_like("X", "state", (torch.ones(2, 3), torch.ones(2, 3)), expected)
    with pytest.raises(ValueError, match=r"X: state\[1\] must have shape \(2, 3\), got \(2, 4\)"):
        check_state_like("X", "state", (torch.ones(2, 3), torch.ones(2, 4)), expected)


def test_uniform_time_scales():
    rates = uniform_time_scales(5, shortest=2.0, longest=32.0).double()
    torch.testing.assert_close(
        1 / (1 - rates), torch.tensor([2.0, 4, 8, 16, 32], dtype=torch.float64)
    )


class MinimalCell(rk.RecurrentCell):
    """A custom cell as a user would write one: h = tanh(W x + U h) * 0.5 + 0.5 * h."""

    num_gates = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, bias)
        self._create_projections()
        self.reset_parameters()

    def step(self, xp_t, state, recurrent_mask=None):
        h = 0.5 * torch.tanh(xp_t + self.project_recurrent(state, recurrent_mask)) + 0.5 * state
        return h, h


def test_custom_cell_runs_in_a_layer(manual, randomise):
    rnn = randomise(rk.Recurrent(MinimalCell, 3, 4, bidirectional=True).double())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out, state = rnn(x, torch.tensor([5, 3]))
    want_out, want_state = manual.recurrent(rnn, x, [5, 3])
    torch.testing.assert_close(out, want_out)
    torch.testing.assert_close(state, want_state)
    assert rnn.cells[0].fused_mode is None


def test_extra_repr_shows_options():
    assert "layer_norm=True" in repr(rk.LSTMCell(3, 4, layer_norm=True))
    assert "reset='before'" in repr(rk.GRUCell(3, 4, reset="before"))
    assert "bias=False" in repr(rk.RNNCell(3, 4, bias=False))
