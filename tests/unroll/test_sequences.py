"""Variable-length helpers: lengths checks, masks, padding-aware reversal, packing."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence

from rnnkit.unroll import check_lengths, mask_from_lengths, reverse_padded
from rnnkit.unroll.sequences import repack, select_rows, unpack


def test_mask_from_lengths():
    mask = mask_from_lengths(torch.tensor([3, 1, 0]), 4)
    want = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(mask, want)


def test_reverse_padded_example():
    x = torch.tensor([[1, 2, 3, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0]])
    got = reverse_padded(x, torch.tensor([3, 5, 1]))
    assert torch.equal(got, torch.tensor([[3, 2, 1, 0, 0], [5, 4, 3, 2, 1], [7, 0, 0, 0, 0]]))
    assert torch.equal(reverse_padded(x, None), x.flip(1))


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 7), min_size=1, max_size=5), extra=st.integers(0, 3))
def test_reverse_padded_property(lengths, extra):
    steps = max(lengths) + extra
    x = torch.randn(len(lengths), steps, 2)
    lens = torch.tensor(lengths)
    y = reverse_padded(x, lens)
    assert torch.equal(reverse_padded(y, lens), x)  # an involution
    for b, n in enumerate(lengths):
        assert torch.equal(y[b, :n], x[b, :n].flip(0))  # each row reversed within its length
        assert torch.equal(y[b, n:], x[b, n:])  # padding stays put


def test_check_lengths_returns_int64_and_accepts_lists():
    got = check_lengths([3, 1], 2, 3)
    assert got.dtype == torch.int64 and got.tolist() == [3, 1]
    assert check_lengths(torch.tensor([2, 2], dtype=torch.int32), 2, 2).dtype == torch.int64


@pytest.mark.parametrize(
    ("lengths", "error", "match"),
    [
        ([0, 1], ValueError, r"owner: lengths must lie between 1 and the padded length 3"),
        ([4, 1], ValueError, r"got a length of 4"),
        ([1, 1, 1], ValueError, r"lengths must have shape \(2,\).*got \(3,\)"),
        ([1.0, 2.0], TypeError, r"lengths must have an integer dtype, got torch.float32"),
        (object(), TypeError, r"lengths must be an int tensor of shape \(2,\), got object"),
    ],
)
def test_check_lengths_errors(lengths, error, match):
    with pytest.raises(error, match=match):
        check_lengths(lengths, 2, 3, owner="owner")


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_unpack_repack_round_trip(enforce_sorted):
    lengths = torch.tensor([4, 2, 2, 1]) if enforce_sorted else torch.tensor([2, 4, 1, 2])
    x = torch.randn(4, 4, 2) * mask_from_lengths(lengths, 4).unsqueeze(2)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    padded, got_lengths = unpack(packed)
    assert torch.equal(got_lengths, lengths) and torch.equal(padded, x)
    again = repack(padded, got_lengths, like=packed)
    assert torch.equal(again.data, packed.data) and torch.equal(
        again.batch_sizes, packed.batch_sizes
    )


def test_select_rows():
    new, old = torch.ones(3, 2), torch.zeros(3, 2)
    got = select_rows(torch.tensor([True, False, True]), (new, new), (old, old))
    for part in got:
        assert part[:, 0].tolist() == [1.0, 0.0, 1.0]
