"""With default options rk.LSTM/GRU/RNN equal torch.nn.LSTM/GRU/RNN after ``from_torch``, in
outputs, final states and gradients; ``to_torch`` copies weights exactly and refuses options
that torch does not have."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit as rk
from rnnkit.unroll import observe_states

I, H, B, T = 5, 6, 4, 7
LENGTHS = torch.tensor([7, 3, 5, 1])
PAIRS = {"lstm": (nn.LSTM, rk.LSTM), "gru": (nn.GRU, rk.GRU), "rnn": (nn.RNN, rk.RNN)}
TOL = dict(atol=1e-5, rtol=1e-5)


def torch_forward(module, x, lengths):
    """torch's own handling of variable lengths: pack, run, unpack."""
    if lengths is None:
        return module(x)
    packed = pack_padded_sequence(x, lengths, batch_first=module.batch_first, enforce_sorted=False)
    out, state = module(packed)
    out, _ = pad_packed_sequence(out, batch_first=module.batch_first, total_length=T)
    return out, state


def parts(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_major"])
def test_equals_torch_after_from_torch(kind, num_layers, bidirectional, with_lengths, batch_first):
    torch_cls, rk_cls = PAIRS[kind]
    reference = torch_cls(
        I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    )
    ours = rk_cls.from_torch(reference)
    assert ours.batch_first == batch_first
    lengths = LENGTHS if with_lengths else None

    shape = (B, T, I) if batch_first else (T, B, I)
    x = torch.randn(shape)
    x_ref = x.clone().requires_grad_(True)
    x_ours = x.clone().requires_grad_(True)

    out_ref, state_ref = torch_forward(reference, x_ref, lengths)
    out_ours, state_ours = ours(x_ours, lengths)
    torch.testing.assert_close(out_ours, out_ref, **TOL)
    for got, want in zip(parts(state_ours), parts(state_ref), strict=True):
        torch.testing.assert_close(got, want, **TOL)

    # The same loss through outputs and every part of the final state.
    weights = torch.randn_like(out_ref)
    loss_ref = (out_ref * weights).sum() + sum(s.square().sum() for s in parts(state_ref))
    loss_ours = (out_ours * weights).sum() + sum(s.square().sum() for s in parts(state_ours))
    loss_ref.backward()
    loss_ours.backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, **TOL)
    for index, cell in enumerate(ours.cells):
        layer, direction = divmod(index, ours.num_directions)
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            torch.testing.assert_close(
                getattr(cell, name).grad, getattr(reference, name + suffix).grad, **TOL
            )


@pytest.mark.parametrize("kind", PAIRS)
def test_equals_torch_on_the_reference_path_too(kind):
    """Forcing the reference loop (an observer) gives torch's result as well."""
    torch_cls, rk_cls = PAIRS[kind]
    reference = torch_cls(I, H, num_layers=2, bidirectional=True, batch_first=True)
    ours = rk_cls.from_torch(reference)
    x = torch.randn(B, T, I)
    want, _ = torch_forward(reference, x, LENGTHS)
    with observe_states(lambda cell, t, state: state):
        got, _ = ours(x, LENGTHS)
    torch.testing.assert_close(got, want, **TOL)


def test_relu_rnn_and_no_bias_convert():
    reference = nn.RNN(I, H, nonlinearity="relu", bias=False, batch_first=True)
    ours = rk.RNN.from_torch(reference)
    assert ours.cells[0].nonlinearity == "relu" and not ours.cells[0].bias
    x = torch.randn(B, T, I)
    torch.testing.assert_close(ours(x)[0], reference(x)[0], **TOL)


def test_from_torch_keeps_dtype():
    reference = nn.GRU(I, H, batch_first=True).double()
    ours = rk.GRU.from_torch(reference)
    assert ours.cells[0].weight_ih.dtype == torch.float64


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_to_torch_round_trip_is_exact(kind, bidirectional):
    _, rk_cls = PAIRS[kind]
    ours = rk_cls(I, H, num_layers=2, bidirectional=bidirectional, batch_first=False, dropout=0.25)
    module = ours.to_torch()
    assert isinstance(module, PAIRS[kind][0])
    assert (module.num_layers, module.bidirectional, module.batch_first) == (
        2,
        bidirectional,
        False,
    )
    assert module.dropout == 0.25
    back = rk_cls.from_torch(module)
    mine, theirs, again = ours.state_dict(), module.state_dict(), back.state_dict()
    assert mine.keys() == again.keys()
    for key in mine:
        assert torch.equal(mine[key], again[key]), key
    assert len(theirs) == len(mine)
    for index, cell in enumerate(ours.cells):
        layer, direction = divmod(index, ours.num_directions)
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            assert torch.equal(getattr(cell, name), theirs[name + suffix])


def test_to_torch_copies_not_shares():
    ours = rk.LSTM(I, H)
    module = ours.to_torch()
    with torch.no_grad():
        module.weight_ih_l0.add_(1.0)
    assert not torch.equal(module.weight_ih_l0, ours.cells[0].weight_ih)


@pytest.mark.parametrize(
    ("kind", "options", "match"),
    [
        ("lstm", {"layer_norm": True}, "layer_norm"),
        ("lstm", {"peephole": True}, "peephole"),
        ("gru", {"reset": "before"}, "reset"),
        ("leaky", {}, "LeakyCell"),
        ("lstm", {"bidirectional": True, "merge": "sum"}, "merge"),
        ("lstm", {"recurrent_dropout": 0.1}, "recurrent_dropout"),
        ("gru", {"zoneout": 0.1}, "zoneout"),
        ("rnn", {"residual": True}, "residual"),
        ("rnn", {"learn_init": True}, "learn_init"),
        ("lstm", {"dilation": 2}, "dilation"),
    ],
)
def test_to_torch_refuses_custom_options(kind, options, match):
    with pytest.raises(ValueError, match=match):
        rk.Recurrent(kind, I, H, **options).to_torch()


def test_from_torch_refuses_what_has_no_equivalent():
    with pytest.raises(ValueError, match="proj_size"):
        rk.LSTM.from_torch(nn.LSTM(I, H, proj_size=2))
    with pytest.raises(TypeError, match="Linear"):
        rk.Recurrent.from_torch(nn.Linear(I, H))
    with pytest.raises(TypeError, match=r"torch\.nn\.LSTM"):
        rk.LSTM.from_torch(nn.GRU(I, H))


def test_recurrent_from_torch_picks_the_kind():
    layer = rk.Recurrent.from_torch(nn.GRU(I, H, num_layers=2))
    assert isinstance(layer.cells[0], rk.GRUCell) and layer.num_layers == 2


def test_kind_names_are_case_insensitive():
    layer = rk.Recurrent("LSTM", I, H, num_layers=2)
    assert layer.kind == "lstm"
    assert isinstance(layer.to_torch(), nn.LSTM)
