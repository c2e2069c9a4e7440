"""``Recurrent`` equals a hand-written loop over its cells, for every cell kind and option.

The loop (``manual.recurrent`` in tests/conftest.py) runs each sequence alone over its own
length, calling ``cell(x_t, state)`` step by step; the backward direction runs the flipped
sequence. Weights are randomised (biases and gains included) so that a misplaced term shows.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

import rnnkit as rk
from rnnkit.unroll import observe_states

CELLS = {
    "lstm": ("lstm", {}),
    "lstm-layer_norm": ("lstm", {"layer_norm": True}),
    "lstm-peephole": ("lstm", {"peephole": True}),
    "gru-after": ("gru", {}),
    "gru-before": ("gru", {"reset": "before"}),
    "rnn-tanh": ("rnn", {}),
    "rnn-relu": ("rnn", {"nonlinearity": "relu"}),
    "leaky": ("leaky", {}),
}

OPTIONS = {
    "default": {},
    "2-layers": {"num_layers": 2},
    "bi-concat": {"bidirectional": True},
    "bi-sum": {"bidirectional": True, "merge": "sum"},
    "bi-mul": {"bidirectional": True, "merge": "mul"},
    "bi-ave": {"bidirectional": True, "merge": "ave"},
    "2-layers-bi-ave": {"num_layers": 2, "bidirectional": True, "merge": "ave"},
    "residual": {"residual": True},
    "residual-2-layers-bi": {"residual": True, "num_layers": 2, "bidirectional": True},
    "dilation-2": {"dilation": 2},
    "dilation-per-layer": {"num_layers": 3, "dilation": [1, 2, 3]},
    "dilation-bi": {"dilation": 2, "bidirectional": True},
    "learn_init": {"learn_init": True, "num_layers": 2, "bidirectional": True},
    "zoneout-eval": {"zoneout": 0.3, "bidirectional": True},
    "dropout-eval": {"dropout": 0.5, "recurrent_dropout": 0.5, "num_layers": 2},
}

I, H, B, T = 3, 4, 3, 5
LENGTHS = [5, 2, 4]


def randomise(module, scale=0.5):
    """Random values everywhere (biases, gains, learned initial states), so every term counts."""
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, scale)
    return module


def build(cell, option, **extra):
    kind, cell_options = CELLS[cell]
    rnn = rk.Recurrent(kind, I, H, **cell_options, **OPTIONS[option], **extra)
    return randomise(rnn.double()).eval()


def _identity(cell, step, state):
    return state


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("path", ["auto", "reference"])
def test_layer_equals_manual_loop(manual, cell, option, with_lengths, path):
    """``auto``: the layer's own choice (fused kernel or engine); ``reference``: the reference
    loop, which an active state observer forces."""
    rnn = build(cell, option)
    x = torch.randn(B, T, I, dtype=torch.float64)
    lengths = LENGTHS if with_lengths else None
    with contextlib.ExitStack() as stack:
        if path == "reference":
            stack.enter_context(observe_states(_identity))
        out, state = rnn(x, None if lengths is None else torch.tensor(lengths))
    want_out, want_state = manual.recurrent(rnn, x, lengths)
    assert out.shape == (B, T, rnn.output_size)
    torch.testing.assert_close(out, want_out)
    torch.testing.assert_close(state, want_state)


@pytest.mark.parametrize("cell", ["lstm", "gru-before", "leaky"])
@pytest.mark.parametrize("option", ["default", "2-layers-bi-ave", "dilation-2"])
def test_given_initial_state_is_used(manual, cell, option):
    rnn = build(cell, option)
    x = torch.randn(B, T, I, dtype=torch.float64)
    template = rnn.initial_state(B, dtype=torch.float64)
    if isinstance(template, tuple):
        state = tuple(torch.randn_like(p) for p in template)
    else:
        state = torch.randn_like(template)
    out, final = rnn(x, torch.tensor(LENGTHS), state)
    want_out, want_final = manual.recurrent(rnn, x, LENGTHS, state)
    torch.testing.assert_close(out, want_out)
    torch.testing.assert_close(final, want_final)
    zero_out, _ = rnn(x, torch.tensor(LENGTHS))
    assert not torch.allclose(out, zero_out)


@pytest.mark.parametrize("cell", ["lstm", "gru-after", "rnn-tanh"])
def test_time_major_input(manual, cell):
    rnn = build(cell, "2-layers-bi-ave", batch_first=False)
    x = torch.randn(B, T, I, dtype=torch.float64)
    out, state = rnn(x.transpose(0, 1), torch.tensor(LENGTHS))
    want_out, want_state = manual.recurrent(rnn, x, LENGTHS)
    torch.testing.assert_close(out, want_out.transpose(0, 1))
    torch.testing.assert_close(state, want_state)


@pytest.mark.parametrize("cell", ["lstm", "gru-after", "gru-before", "rnn-tanh", "leaky"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("path", ["auto", "reference"])
def test_recurrent_dropout_in_training_equals_loop_with_reconstructed_masks(
    manual, cell, bidirectional, path
):
    """One Bernoulli mask per (cell, sequence), drawn in cell order, scaled by 1 / keep."""
    p = 0.4
    rnn = build(cell, "default", recurrent_dropout=p, num_layers=2, bidirectional=bidirectional)
    rnn.train()
    x = torch.randn(B, T, I, dtype=torch.float64)
    torch.manual_seed(123)
    with contextlib.ExitStack() as stack:
        if path == "reference":
            stack.enter_context(observe_states(_identity))
        out, state = rnn(x, torch.tensor(LENGTHS))
    torch.manual_seed(123)
    masks = [
        torch.bernoulli(torch.full((B, H), 1 - p, dtype=torch.float64)) / (1 - p) for _ in rnn.cells
    ]
    want_out, want_state = manual.recurrent(rnn, x, LENGTHS, masks=masks)
    torch.testing.assert_close(out, want_out)
    torch.testing.assert_close(state, want_state)
    # and the masks did something: without them the result differs
    plain_out, _ = manual.recurrent(rnn, x, LENGTHS)
    assert not torch.allclose(out, plain_out)


def test_attributes():
    rnn = rk.Recurrent("gru", I, H, num_layers=3, bidirectional=True, merge="sum")
    assert (rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.num_directions) == (I, H, 3, 2)
    assert rnn.output_size == H
    assert len(rnn.cells) == 6
    assert [c.input_size for c in rnn.cells] == [I, I, 2 * H, 2 * H, 2 * H, 2 * H]
    assert rk.Recurrent("gru", I, H, bidirectional=True).output_size == 2 * H
    assert rk.Recurrent("gru", I, H).output_size == H


def test_cell_class_as_kind():
    rnn = rk.Recurrent(rk.LeakyCell, I, H)
    assert all(isinstance(c, rk.LeakyCell) for c in rnn.cells)


def test_cell_options_reach_every_cell():
    rnn = rk.Recurrent(
        "lstm", I, H, num_layers=2, bidirectional=True, layer_norm=True, forget_bias=2.0
    )
    assert all(c.layer_norm and c.bias_ih[H : 2 * H].eq(2.0).all() for c in rnn.cells)


def test_residual_projects_only_where_sizes_differ():
    rnn = rk.Recurrent("gru", I, H, num_layers=3, residual=True)
    assert isinstance(rnn.skips[0], torch.nn.Linear)
    assert rnn.skips[0].weight.shape == (H, I)
    assert all(isinstance(s, torch.nn.Identity) for s in rnn.skips[1:])


def test_residual_adds_the_input():
    """With the cell's output forced to zero, a residual layer returns its input exactly."""
    rnn = rk.Recurrent("rnn", H, H, residual=True).double()
    with torch.no_grad():
        for p in rnn.parameters():
            p.zero_()
    x = torch.randn(2, 4, H, dtype=torch.float64)
    out, _ = rnn(x, torch.tensor([4, 2]))
    torch.testing.assert_close(out[0], x[0])
    torch.testing.assert_close(out[1, :2], x[1, :2])
    assert out[1, 2:].eq(0).all()


def test_learn_init_is_trained():
    rnn = rk.Recurrent("lstm", I, H, num_layers=2, learn_init=True)
    assert [tuple(p.shape) for p in rnn.initial] == [(2, H), (2, H)]
    out, _ = rnn(torch.randn(B, T, I))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in rnn.initial)


def test_dilation_reads_state_d_steps_back():
    """With dilation 2 the even and odd steps form two independent chains."""
    rnn = build("gru-after", "dilation-2")
    x = torch.randn(1, 6, I, dtype=torch.float64)
    out, _ = rnn(x)
    changed = x.clone()
    changed[:, 1] += 1.0  # an odd step
    out2, _ = rnn(changed)
    torch.testing.assert_close(out2[:, 0::2], out[:, 0::2])
    assert not torch.allclose(out2[:, 3], out[:, 3])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("option", ["default", "2-layers", "residual", "zoneout-eval"])
def test_carrying_the_state_across_chunks_equals_one_run(cell, option):
    """Running a sequence in two chunks, the second starting from the first's final state,
    gives the outputs and final state of one run (what truncated BPTT relies on)."""
    options = {k: v for k, v in OPTIONS[option].items() if k != "bidirectional"}
    kind, cell_options = CELLS[cell]
    rnn = randomise(rk.Recurrent(kind, I, H, **cell_options, **options).double()).eval()
    x = torch.randn(B, T, I, dtype=torch.float64)
    whole, final = rnn(x)
    first, state = rnn(x[:, :2])
    second, state = rnn(x[:, 2:], state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    torch.testing.assert_close(state, final)
