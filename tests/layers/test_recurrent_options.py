"""Dropout variants, zoneout, state_dicts, PackedSequence input and lengths handling."""

from __future__ import annotations

import io

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit as rk

from .test_recurrent import randomise

I, H, B, T = 3, 4, 3, 6
LENGTHS = torch.tensor([6, 2, 4])


def parts(state):
    return state if isinstance(state, tuple) else (state,)


def assert_same(a, b):
    for x, y in zip(parts(a), parts(b), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


RANDOM_OPTIONS = {
    "dropout": {"dropout": 0.5, "num_layers": 2},
    "recurrent_dropout": {"recurrent_dropout": 0.5},
    "zoneout": {"zoneout": 0.5},
}


# -- dropout variants act only in training ------------------------------------------------------
@pytest.mark.parametrize("kind", ["lstm", "gru", "leaky"])
@pytest.mark.parametrize("option", RANDOM_OPTIONS)
def test_random_in_training_deterministic_in_eval(kind, option):
    rnn = rk.Recurrent(kind, I, H, bidirectional=True, **RANDOM_OPTIONS[option])
    x = torch.randn(B, T, I)
    rnn.train()
    first, _ = rnn(x, LENGTHS)
    second, _ = rnn(x, LENGTHS)
    assert not torch.equal(first, second)
    rnn.eval()
    first, state1 = rnn(x, LENGTHS)
    second, state2 = rnn(x, LENGTHS)
    assert_same(first, second)
    assert_same(state1, state2)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "leaky"])
def test_dropout_alone_in_eval_equals_no_dropout(kind):
    options = {"num_layers": 3, "bidirectional": True}
    with_dropout = rk.Recurrent(kind, I, H, dropout=0.5, recurrent_dropout=0.5, **options)
    without = rk.Recurrent(kind, I, H, **options)
    without.load_state_dict(with_dropout.state_dict())
    x = torch.randn(B, T, I)
    got, got_state = with_dropout.eval()(x, LENGTHS)
    want, want_state = without.eval()(x, LENGTHS)
    assert_same(got, want)
    assert_same(got_state, want_state)


def test_dropout_between_layers_only():
    """``dropout`` acts between layers, so a one-layer layer is not random even in training."""
    rnn = rk.Recurrent("gru", I, H, dropout=0.9).train()
    x = torch.randn(B, T, I)
    assert_same(rnn(x)[0], rnn(x)[0])


def test_dropout_scales_kept_units():
    """Between layers, kept units are scaled by 1 / (1 - p): the expectation is unchanged."""
    rnn = rk.Recurrent("rnn", H, H, num_layers=2, dropout=0.5, residual=True)
    with torch.no_grad():
        for p in rnn.parameters():
            p.zero_()  # every cell outputs 0: the layers just pass the (dropped) input on
    x = torch.randn(B, T, H)
    out, _ = rnn.train()(x)
    # layer 1 receives dropout(x); its residual adds it to a zero output
    kept = out != 0
    assert 0 < kept.float().mean() < 1
    torch.testing.assert_close(out[kept], 2 * x[kept])


def test_recurrent_dropout_one_mask_per_sequence_reused_every_step(monkeypatch):
    rnn = rk.Recurrent("lstm", I, H, recurrent_dropout=0.5).train()
    seen = []
    step = rk.LSTMCell.step

    def spy(self, xp_t, state, recurrent_mask=None):
        seen.append(recurrent_mask)
        return step(self, xp_t, state, recurrent_mask)

    monkeypatch.setattr(rk.LSTMCell, "step", spy)
    rnn(torch.randn(B, T, I), LENGTHS)
    assert len(seen) == T
    mask = seen[0]
    assert mask.shape == (B, H)
    assert all(torch.equal(m, mask) for m in seen)
    assert set(mask.unique().tolist()) <= {0.0, 2.0}  # dropped, or kept and scaled by 1 / 0.5
    assert (mask == 0).any() and (mask == 2).any()
    seen.clear()
    rnn(torch.randn(B, T, I))
    assert not torch.equal(seen[0], mask)  # a fresh mask for each call


def test_recurrent_dropout_does_not_mask_the_carried_state():
    """Dropping every unit entering the product still carries c: an LSTM with zero recurrent
    input keeps c_t = f * c_{t-1} + i * g, not a masked c."""
    rnn = rk.Recurrent("lstm", I, H, recurrent_dropout=0.5).double().train()
    cell = rnn.cells[0]
    x = torch.randn(1, 2, I, dtype=torch.float64)
    zero_mask = torch.zeros(1, H, dtype=torch.float64)
    state = cell.initial_state(1, dtype=torch.float64)
    _, state = cell.step(cell.project_input(x[:, 0]), state, zero_mask)
    _, (_, c) = cell.step(cell.project_input(x[:, 1]), state, zero_mask)
    xp = cell.project_input(x[:, 1]) + cell.bias_hh
    i, f, g, _ = xp.chunk(4, 1)
    want_c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
    torch.testing.assert_close(c, want_c)


def test_zoneout_in_training_keeps_previous_values():
    """In training, each unit either keeps its previous value exactly or takes the new one."""
    p = 0.5
    rnn = rk.Recurrent("gru", I, H, zoneout=p).double().train()
    cell = rnn.cells[0]
    x = torch.randn(64, 5, I, dtype=torch.float64)
    out, _ = rnn(x)
    previous = torch.cat([torch.zeros(64, 1, H, dtype=torch.float64), out[:, :-1]], dim=1)
    kept = out == previous
    share = kept.double().mean().item()
    assert 0.4 < share < 0.6
    # where not kept, the output is the cell's update of the previous output
    for t in range(5):
        new, _ = cell(x[:, t], previous[:, t])
        torch.testing.assert_close(out[:, t][~kept[:, t]], new[~kept[:, t]])


def test_zoneout_eval_is_the_expectation():
    p = 0.3
    rnn = rk.Recurrent("lstm", I, H, zoneout=p).double().eval()
    cell = rnn.cells[0]
    x = torch.randn(B, T, I, dtype=torch.float64)
    out, _ = rnn(x)
    state = cell.initial_state(B, dtype=torch.float64)
    for t in range(T):
        _, new = cell(x[:, t], state)
        state = tuple(p * old + (1 - p) * n for old, n in zip(state, new, strict=True))
        torch.testing.assert_close(out[:, t], state[0])


# -- state_dict ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"kind": "lstm", "num_layers": 2, "bidirectional": True},
        {"kind": "gru", "residual": True, "learn_init": True, "num_layers": 2},
        {"kind": "lstm", "layer_norm": True, "peephole": True},
        {"kind": "leaky", "bidirectional": True, "merge": "sum"},
    ],
    ids=["lstm-bi", "gru-residual-init", "lstm-ln-peephole", "leaky"],
)
def test_state_dict_round_trip(options):
    options = dict(options)
    kind = options.pop("kind")
    source = randomise(rk.Recurrent(kind, I, H, **options)).eval()
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    fresh = rk.Recurrent(kind, I, H, **options).eval()
    x = torch.randn(B, T, I)
    assert not torch.equal(fresh(x)[0], source(x)[0])
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert_same(fresh(x, LENGTHS), source(x, LENGTHS))


def test_state_dicts_interchangeable_across_merge_modes():
    x = torch.randn(B, T, I)
    layers = {
        merge: rk.Recurrent("gru", I, H, num_layers=2, bidirectional=True, merge=merge)
        for merge in ("concat", "sum", "mul", "ave")
    }
    concat = layers["concat"]
    for layer in layers.values():
        layer.load_state_dict(concat.state_dict())  # strict: the same keys and shapes
    out, state = concat(x, LENGTHS)
    forward, backward = out.chunk(2, dim=-1)
    want = {"sum": forward + backward, "mul": forward * backward, "ave": (forward + backward) / 2}
    for merge, expected in want.items():
        got, got_state = layers[merge](x, LENGTHS)
        torch.testing.assert_close(got, expected)
        assert_same(got_state, state)


# -- PackedSequence and lengths -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["lstm", "gru", "leaky"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_packed_in_packed_out(kind, batch_first):
    rnn = rk.Recurrent(kind, I, H, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = torch.randn(B, T, I)
    want_out, want_state = rnn(x if batch_first else x.transpose(0, 1), LENGTHS)
    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    out, state = rnn(packed)
    assert isinstance(out, torch.nn.utils.rnn.PackedSequence)
    padded, lengths = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    assert torch.equal(lengths, LENGTHS)
    torch.testing.assert_close(padded, want_out)
    assert_same(state, want_state)
    torch.testing.assert_close(out.unsorted_indices, packed.unsorted_indices)


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_output_lines_up_row_for_row_with_the_input_as_torch_does(enforce_sorted):
    # 40 rows of lengths 1-3 tie a lot: a packed output sorted anew may order the ties otherwise,
    # and its .data would then pair with the wrong rows of targets packed like the input.
    torch.manual_seed(0)
    lengths = torch.randint(1, 4, (40,))
    if enforce_sorted:
        lengths = lengths.sort(descending=True).values
    x = torch.randn(40, 3, I)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    reference = torch.nn.GRU(I, H, batch_first=True)
    want = reference(packed)[0]
    got = rk.GRU.from_torch(reference)(packed)[0]
    torch.testing.assert_close(got.data, want.data)
    assert torch.equal(got.batch_sizes, want.batch_sizes)
    for ours, theirs in [(got.sorted_indices, want.sorted_indices),
                         (got.unsorted_indices, want.unsorted_indices)]:  # fmt: skip
        assert (ours is None and theirs is None) or torch.equal(ours, theirs)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.int16, torch.uint8])
def test_lengths_integer_dtypes(dtype):
    rnn = rk.Recurrent("gru", I, H, bidirectional=True)
    x = torch.randn(B, T, I)
    want = rnn(x, LENGTHS)
    got = rnn(x, LENGTHS.to(dtype))
    assert_same(got[0], want[0])
    assert_same(got[1], want[1])


def test_lengths_as_list():
    rnn = rk.Recurrent("rnn", I, H)
    x = torch.randn(B, T, I)
    assert_same(rnn(x, LENGTHS.tolist())[0], rnn(x, LENGTHS)[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["lstm", "leaky"])
def test_lengths_on_the_input_device(kind):
    rnn = rk.Recurrent(kind, I, H, bidirectional=True)
    x = torch.randn(B, T, I)
    want = rnn(x, LENGTHS)[0]
    got = rnn.cuda()(x.cuda(), LENGTHS.cuda())[0]
    torch.testing.assert_close(got.cpu(), want, atol=1e-5, rtol=1e-5)


def test_full_lengths_equal_no_lengths():
    rnn = rk.Recurrent("lstm", I, H, bidirectional=True, num_layers=2)
    x = torch.randn(B, T, I)
    a, sa = rnn(x)
    b, sb = rnn(x, torch.full((B,), T))
    torch.testing.assert_close(a, b)
    for p, q in zip(sa, sb, strict=True):
        torch.testing.assert_close(p, q)
