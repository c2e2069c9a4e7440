"""``rk.unroll`` (the reference loop) against the hand-written per-sequence loop."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.unroll import zoneout_step

I, H, B, T = 3, 4, 3, 6
LENGTHS = [6, 2, 4]
f64 = torch.float64
KINDS = {
    "lstm": (rk.LSTMCell, {}),
    "gru": (rk.GRUCell, {}),
    "gru-before": (rk.GRUCell, {"reset": "before"}),
    "rnn": (rk.RNNCell, {}),
    "leaky": (rk.LeakyCell, {}),
}


def make(kind, randomise):
    cls, options = KINDS[kind]
    return randomise(cls(I, H, **options).double())


def expected(manual, cell, x, lengths, state=None, *, reverse=False, mask=None, **options):
    """Per sequence: its real steps only, flipped for ``reverse``; zeros past its length."""
    outs = torch.zeros(B, T, H, dtype=f64)
    finals = []
    for b, length in enumerate(lengths):
        xs = x[b, :length].flip(0) if reverse else x[b, :length]
        if state is None:
            initial = cell.initial_state(1, dtype=f64)
        elif isinstance(state, tuple):
            initial = tuple(s[b : b + 1] for s in state)
        else:
            initial = state[b : b + 1]
        row_mask = None if mask is None else mask[b : b + 1]
        ys, final = manual.run_sequence(cell, xs, initial, mask=row_mask, **options)
        outs[b, :length] = ys.flip(0) if reverse else ys
        finals.append(final)
    if isinstance(finals[0], tuple):
        return outs, tuple(torch.cat(parts) for parts in zip(*finals, strict=True))
    return outs, torch.cat(finals)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_unroll_equals_manual_loop(manual, randomise, kind, reverse, with_lengths):
    cell = make(kind, randomise)
    x = torch.randn(B, T, I, dtype=f64)
    lengths = LENGTHS if with_lengths else [T] * B
    out, final = rk.unroll(
        cell, x, torch.tensor(lengths) if with_lengths else None, reverse=reverse
    )
    want_out, want_final = expected(manual, cell, x, lengths, reverse=reverse)
    torch.testing.assert_close(out, want_out)
    torch.testing.assert_close(final, want_final)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_unroll_options(manual, randomise, kind):
    """Initial state, dilation, eval-mode zoneout and a recurrent mask, all at once."""
    cell = make(kind, randomise)
    x = torch.randn(B, T, I, dtype=f64)
    template = cell.initial_state(B, dtype=f64)
    state = (
        tuple(torch.randn_like(s) for s in template)
        if isinstance(template, tuple)
        else torch.randn_like(template)
    )
    mask = torch.bernoulli(torch.full((B, H), 0.5, dtype=f64)) * 2
    for reverse in (False, True):
        out, final = rk.unroll(
            cell,
            x,
            torch.tensor(LENGTHS),
            state,
            reverse=reverse,
            recurrent_mask=mask,
            zoneout=0.25,
            training=False,
            dilation=3,
        )
        want_out, want_final = expected(
            manual,
            cell,
            x,
            LENGTHS,
            state,
            reverse=reverse,
            mask=mask,
            zoneout=0.25,
            dilation=3,
        )
        torch.testing.assert_close(out, want_out)
        torch.testing.assert_close(final, want_final)


def test_unroll_accepts_lengths_of_any_int_dtype(randomise):
    cell = make("gru", randomise)
    x = torch.randn(B, T, I, dtype=f64)
    want = rk.unroll(cell, x, torch.tensor(LENGTHS))
    got = rk.unroll(cell, x, torch.tensor(LENGTHS, dtype=torch.int32))
    torch.testing.assert_close(got, want)


def test_unroll_takes_lengths_as_a_list_and_names_bad_ones():
    cell = rk.GRUCell(3, 4)
    x = torch.randn(2, 5, 3)
    _, final = rk.unroll(cell, x, [5, 2])
    torch.testing.assert_close(final[1], rk.unroll(cell, x[1:, :2])[1][0])
    for bad, error in [([7, 2], ValueError), ([0, 2], ValueError), ([[5], [2]], ValueError),
                       (torch.tensor([5.0, 2.0]), TypeError)]:  # fmt: skip
        with pytest.raises(error, match="unroll: lengths"):
            rk.unroll(cell, x, bad)


def test_zoneout_step():
    previous, new = torch.zeros(1000, 8), torch.ones(1000, 8)
    torch.testing.assert_close(zoneout_step(previous, new, 0.3, training=False), 0.7 * new)
    torch.manual_seed(0)
    mixed = zoneout_step(previous, new, 0.3, training=True)
    assert set(mixed.unique().tolist()) == {0.0, 1.0}
    assert abs((mixed == 0).float().mean().item() - 0.3) < 0.02
    pair = zoneout_step((previous, previous + 2), (new, new), 0.5, training=False)
    torch.testing.assert_close(pair[1], torch.full((1000, 8), 1.5))
