"""Every bad input raises ValueError or TypeError with a message that names the argument."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit as rk

I, H, B, T = 3, 4, 2, 5


@pytest.fixture(scope="module")
def lstm():
    return rk.Recurrent("lstm", I, H, num_layers=2)


@pytest.fixture(scope="module")
def gru():
    return rk.Recurrent("gru", I, H, bidirectional=True)


X = torch.randn(B, T, I)


@pytest.mark.parametrize(
    ("lengths", "error", "match"),
    [
        (torch.tensor([0, 3]), ValueError, r"lengths.*between 1 and .*5, got .*\b0$"),
        (torch.tensor([6, 3]), ValueError, r"lengths.*between 1 and .*5, got .*\b6$"),
        (torch.tensor([-1, 3]), ValueError, r"lengths.*got .*-1$"),
        (torch.tensor([5, 3, 2]), ValueError, r"lengths.*\(2,\).*got \(3,\)"),
        (torch.tensor([[5, 3]]), ValueError, r"lengths.*\(2,\)"),
        (torch.tensor([5.0, 3.0]), TypeError, "lengths.*integer"),
        (torch.tensor([True, True]), TypeError, "lengths.*integer"),
        ("abc", TypeError, "lengths"),
    ],
    ids=["zero", "too-long", "negative", "wrong-size", "wrong-rank", "float", "bool", "string"],
)
@pytest.mark.parametrize("layer", ["lstm", "gru"])
def test_bad_lengths(request, layer, lengths, error, match):
    with pytest.raises(error, match=match):
        request.getfixturevalue(layer)(X, lengths)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.randn(T, I), ValueError, r"x must be 3-D.*got shape \(5, 3\)"),
        (torch.randn(1, B, T, I), ValueError, r"x must be 3-D"),
        (torch.randn(B, T, I + 1), ValueError, r"x has 4 features.*input_size=3"),
        (torch.ones(B, T, I, dtype=torch.long), TypeError, r"x must be a floating-point.*int64"),
        ([[0.0] * I] * T, TypeError, r"x must be a Tensor.*list"),
    ],
    ids=["2d", "4d", "features", "int", "list"],
)
def test_bad_input(lstm, x, error, match):
    with pytest.raises(error, match=match):
        lstm(x)


def test_packed_input_with_lengths(lstm):
    packed = pack_padded_sequence(X, torch.tensor([5, 3]), batch_first=True)
    with pytest.raises(ValueError, match="lengths or a PackedSequence"):
        lstm(packed, torch.tensor([5, 3]))


def test_packed_input_of_wrong_feature_size(lstm):
    packed = pack_padded_sequence(torch.randn(B, T, I + 2), torch.tensor([5, 3]), batch_first=True)
    with pytest.raises(ValueError, match="input_size=3"):
        lstm(packed)


def test_time_major_error_names_the_layout():
    rnn = rk.Recurrent("rnn", I, H, batch_first=False)
    with pytest.raises(ValueError, match=r"\(time, batch, features\).*batch_first=False"):
        rnn(torch.randn(T, I))


@pytest.mark.parametrize(
    ("state", "error", "match"),
    [
        (torch.zeros(2, B, H), TypeError, r"state must be a tuple of 2 tensors.*Tensor"),
        ((torch.zeros(2, B, H),), TypeError, r"state must be a tuple of 2"),
        ((torch.zeros(1, B, H), torch.zeros(2, B, H)), ValueError, r"state\[0\].*\(2, 2, 4\)"),
        ((torch.zeros(2, B, H), torch.zeros(2, B + 1, H)), ValueError, r"state\[1\].*\(2, 3, 4\)"),
        ((torch.zeros(2, B, H), torch.zeros(2, B, H + 1)), ValueError, r"state\[1\]"),
        (([0.0], torch.zeros(2, B, H)), TypeError, r"state\[0\] must be a Tensor"),
    ],
    ids=["tensor", "1-tuple", "layers", "batch", "hidden", "list"],
)
def test_bad_lstm_state(lstm, state, error, match):
    with pytest.raises(error, match=match):
        lstm(X, state=state)


@pytest.mark.parametrize(
    ("state", "error", "match"),
    [
        ((torch.zeros(2, B, H), torch.zeros(2, B, H)), TypeError, r"state must be a Tensor.*tuple"),
        (torch.zeros(1, B, H), ValueError, r"state must have shape \(2, 2, 4\).*\(1, 2, 4\)"),
        (torch.zeros(2, B, H, 1), ValueError, r"state must have shape"),
    ],
    ids=["tuple", "directions", "rank"],
)
def test_bad_gru_state(gru, state, error, match):
    with pytest.raises(error, match=match):
        gru(X, state=state)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kind": "transformer"}, ValueError, r"kind.*'gru'.*'lstm'.*'transformer'"),
        ({"kind": torch.nn.Linear}, ValueError, r"kind"),
        ({"merge": "max"}, ValueError, r"merge must be one of.*'max'"),
        ({"layer_norm": True, "kind": "gru"}, TypeError, r"unknown option.*layer_norm"),
        ({"nonlinearity": "relu", "kind": "lstm"}, TypeError, r"nonlinearity.*options are"),
        ({"reset": "middle", "kind": "gru"}, ValueError, r"reset must be one of.*'middle'"),
        ({"nonlinearity": "gelu", "kind": "rnn"}, ValueError, r"nonlinearity.*'gelu'"),
        ({"dropout": 1.0}, ValueError, r"dropout must be a probability.*1\.0"),
        ({"dropout": -0.1}, ValueError, r"dropout must be a probability"),
        ({"recurrent_dropout": 1.5}, ValueError, r"recurrent_dropout.*1\.5"),
        ({"dropout": "0.5"}, TypeError, r"dropout must be a float.*'0\.5'"),
        ({"zoneout": None}, TypeError, r"zoneout must be a float.*None"),
        ({"dropout": float("nan")}, ValueError, r"dropout must be a probability.*nan"),
        ({"zoneout": -0.5}, ValueError, r"zoneout.*-0\.5"),
        ({"dilation": 0}, ValueError, r"dilation must be a positive int.*got 0"),
        ({"dilation": [1, 2, 3]}, ValueError, r"dilation.*list of 2"),
        ({"dilation": [1, 0]}, ValueError, r"dilation"),
        ({"dilation": 1.5}, ValueError, r"dilation must be a positive int.*1\.5"),
        ({"dilation": True}, ValueError, r"dilation.*True"),
        ({"num_layers": 0}, ValueError, r"num_layers must be a positive int.*0"),
        ({"num_layers": 1.0}, ValueError, r"num_layers"),
        ({"input_size": 0}, ValueError, r"input_size must be a positive int"),
        ({"hidden_size": -2}, ValueError, r"hidden_size must be a positive int"),
    ],
)
def test_bad_construction(kwargs, error, match):
    args = {"kind": "lstm", "input_size": I, "hidden_size": H, "num_layers": 2, **kwargs}
    with pytest.raises(error, match=match):
        rk.Recurrent(**args)
