"""``observe_states``: every reference-loop step passes its state through the observer."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.unroll import observe_states
from rnnkit.unroll.probes import current_observer


def test_observer_sees_every_step_and_forces_the_reference_loop():
    rnn = rk.Recurrent("lstm", 3, 4, num_layers=2, bidirectional=True)  # fusable
    seen = []

    def observer(cell, step, state):
        seen.append((cell, step))
        return state

    x = torch.randn(2, 5, 3)
    plain, _ = rnn(x)
    with observe_states(observer):
        observed, _ = rnn(x)
    torch.testing.assert_close(observed, plain, atol=1e-6, rtol=1e-5)
    assert len(seen) == 4 * 5  # four cells, five steps each
    assert [step for cell, step in seen if cell is rnn.cells[1]] == list(range(5))
    assert current_observer() is None


def test_probe_gradients_measure_dloss_dh_t():
    """state + 0 * probe: autograd gives dL/dh_t through every path, the recurrence included."""
    cell = rk.RNNCell(2, 3).double()
    x = torch.randn(1, 4, 2, dtype=torch.float64)
    probes = [torch.zeros(1, 3, dtype=torch.float64, requires_grad=True) for _ in range(4)]

    def observer(c, step, state):
        return state + probes[step]

    with observe_states(observer):
        out, _ = rk.unroll(cell, x)
    out[:, -1].sum().backward()
    # by hand: dL/dh_3 = 1, dL/dh_t = dL/dh_{t+1} * diag(1 - h_{t+1}^2) W_hh
    grad = torch.ones(1, 3, dtype=torch.float64)
    torch.testing.assert_close(probes[3].grad, grad)
    for t in (2, 1, 0):
        grad = (grad * (1 - out[:, t + 1] ** 2)) @ cell.weight_hh
        torch.testing.assert_close(probes[t].grad, grad.detach())


def test_observer_is_removed_after_an_error():
    with pytest.raises(RuntimeError), observe_states(lambda c, t, s: s):
        raise RuntimeError("boom")
    assert current_observer() is None
