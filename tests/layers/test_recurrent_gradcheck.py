"""float64 gradients of every cell and option pass ``torch.autograd.gradcheck``, with lengths,
with respect to the input, the initial state and every parameter (fused and reference paths)."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

import rnnkit as rk

from .test_recurrent import CELLS, randomise

B, T, I, H = 2, 3, 3, 2
LENGTHS = torch.tensor([3, 2])

OPTIONS = {
    "default": {},
    "2-layers-bi": {"num_layers": 2, "bidirectional": True},
    "bi-sum": {"bidirectional": True, "merge": "sum"},
    "bi-mul": {"bidirectional": True, "merge": "mul"},
    "bi-ave": {"bidirectional": True, "merge": "ave"},
    "residual": {"residual": True, "num_layers": 2},
    "dilation": {"num_layers": 2, "dilation": [2, 1]},
    "learn_init": {"learn_init": True},
    "zoneout": {"zoneout": 0.3},
    "recurrent_dropout": {"recurrent_dropout": 0.3},
    "dropout": {"dropout": 0.3, "num_layers": 2},
}
# Random options are checked in training mode, reseeding before every evaluation so that
# gradcheck's repeated calls see the same masks.
TRAINING = {"recurrent_dropout", "dropout"}


def check_gradients(rnn, x, lengths, state=None, training=False, fast_mode=False):
    names = [name for name, _ in rnn.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for _, p in rnn.named_parameters()]
    rnn.train(training)
    state_parts = () if state is None else (state if isinstance(state, tuple) else (state,))
    n_state = len(state_parts)

    def f(x, *inputs):
        torch.manual_seed(7)
        given = inputs[:n_state]
        given = None if not given else (given if len(given) > 1 else given[0])
        out, final = functional_call(
            rnn, dict(zip(names, inputs[n_state:], strict=True)), (x, lengths, given)
        )
        return (out, *(final if isinstance(final, tuple) else (final,)))

    inputs = (x, *(s.requires_grad_(True) for s in state_parts), *params)
    assert torch.autograd.gradcheck(f, inputs, atol=1e-6, rtol=1e-4, fast_mode=fast_mode)


def gradcheck_layer(cell, option, fast_mode):
    kind, cell_options = CELLS[cell]
    rnn = randomise(rk.Recurrent(kind, I, H, **cell_options, **OPTIONS[option]).double())
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    check_gradients(rnn, x, LENGTHS, training=option in TRAINING, fast_mode=fast_mode)


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck(cell, option):
    """The full Jacobian for one layer of each cell; for the options, random projections of it
    (gradcheck's fast mode: v^T J u against a finite difference along u), to keep it fast."""
    gradcheck_layer(cell, option, fast_mode=option != "default")


@pytest.mark.slow
@pytest.mark.parametrize("option", [o for o in OPTIONS if o != "default"])
@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck_full_jacobian(cell, option):
    gradcheck_layer(cell, option, fast_mode=False)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gradcheck_through_initial_state(kind):
    rnn = randomise(rk.Recurrent(kind, I, H, num_layers=2, bidirectional=True).double())
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    template = rnn.initial_state(B, dtype=torch.float64)
    parts = template if isinstance(template, tuple) else (template,)
    state = tuple(torch.randn_like(p) for p in parts)
    check_gradients(rnn, x, LENGTHS, state if len(state) > 1 else state[0])
