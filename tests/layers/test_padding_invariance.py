"""Padding never changes a result: each sequence gives the same outputs and final state alone as
in a batch padded to a longer length, whatever the padding holds, in both directions, on the
fused path and on the reference loop."""

from __future__ import annotations

import functools

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnkit as rk
from rnnkit.unroll import observe_states

I, H = 3, 4

CONFIGS = [
    ("lstm", {}),
    ("gru", {}),
    ("rnn", {}),
    ("lstm", {"num_layers": 2, "bidirectional": True}),
    ("gru", {"bidirectional": True, "merge": "mul"}),
    ("rnn", {"num_layers": 2, "bidirectional": True, "residual": True, "merge": "sum"}),
    ("lstm", {"layer_norm": True, "bidirectional": True}),
    ("gru", {"reset": "before", "bidirectional": True, "dilation": 2}),
    ("leaky", {"num_layers": 2, "bidirectional": True, "zoneout": 0.2}),
]


@functools.cache
def layer(index: int) -> rk.Recurrent:
    kind, options = CONFIGS[index]
    torch.manual_seed(index)
    rnn = rk.Recurrent(kind, I, H, **options).double().eval()
    with torch.no_grad():
        for p in rnn.parameters():
            p.normal_(0.0, 0.5)
    return rnn


def parts(state):
    return state if isinstance(state, tuple) else (state,)


def _identity(cell, step, state):
    return state


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    config=st.integers(0, len(CONFIGS) - 1),
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    extra=st.integers(0, 3),
    fill=st.sampled_from(["random", "huge", "nan", "inf"]),
    reference=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_padding_never_changes_a_sequence(config, lengths, extra, fill, reference, seed):
    rnn = layer(config)
    generator = torch.Generator().manual_seed(seed)
    steps = max(lengths) + extra
    x = torch.randn(len(lengths), steps, I, generator=generator, dtype=torch.float64)
    for b, length in enumerate(lengths):
        if fill != "random":
            x[b, length:] = {"huge": 1e6, "nan": torch.nan, "inf": torch.inf}[fill]
    with torch.no_grad():
        if reference:  # an observer forces the reference loop even for fusable cells
            with observe_states(_identity):
                out, state = rnn(x, torch.tensor(lengths))
        else:
            out, state = rnn(x, torch.tensor(lengths))
        for b, length in enumerate(lengths):
            alone_out, alone_state = rnn(x[b : b + 1, :length])
            torch.testing.assert_close(out[b : b + 1, :length], alone_out)
            assert out[b, length:].eq(0).all()
            for got, want in zip(parts(state), parts(alone_state), strict=True):
                torch.testing.assert_close(got[:, b : b + 1], want)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    config=st.integers(0, len(CONFIGS) - 1),
    lengths=st.lists(st.integers(1, 5), min_size=2, max_size=3),
    extra=st.integers(0, 2),
    fill=st.sampled_from(["random", "huge", "nan", "inf"]),
    reference=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_padding_never_changes_a_gradient(config, lengths, extra, fill, reference, seed):
    """The weight gradients of a padded batch are the sum of each sequence's own, and the
    gradient reaching the padding is zero, whatever the padding holds (even inf or nan)."""
    rnn = layer(config)
    generator = torch.Generator().manual_seed(seed)
    steps = max(lengths) + extra
    x = torch.randn(len(lengths), steps, I, generator=generator, dtype=torch.float64)
    for b, length in enumerate(lengths):
        x[b, length:] = {"random": x[b, length:], "huge": 1e6, "nan": torch.nan, "inf": torch.inf}[
            fill
        ]
    x.requires_grad_(True)
    weights = torch.randn(len(lengths), steps, rnn.output_size, generator=generator).double()
    params = list(rnn.parameters())

    def loss_and_grads(inputs, lengths_or_none, rows):
        if reference:
            with observe_states(_identity):
                out, state = rnn(inputs, lengths_or_none)
        else:
            out, state = rnn(inputs, lengths_or_none)
        loss = (out * weights[rows, : out.shape[1]]).sum()
        loss = loss + sum(part.square().sum() for part in parts(state))
        return torch.autograd.grad(loss, [inputs, *params])

    batch_grads = loss_and_grads(x, torch.tensor(lengths), slice(None))
    want = [torch.zeros_like(p) for p in params]
    for b, length in enumerate(lengths):
        alone = x[b : b + 1, :length].detach().requires_grad_(True)
        grads = loss_and_grads(alone, None, slice(b, b + 1))
        torch.testing.assert_close(batch_grads[0][b : b + 1, :length], grads[0])
        assert batch_grads[0][b, length:].eq(0).all()
        want = [w + g for w, g in zip(want, grads[1:], strict=True)]
    for got, expected in zip(batch_grads[1:], want, strict=True):
        torch.testing.assert_close(got, expected)
