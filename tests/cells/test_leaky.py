"""LeakyCell: the leaky-integrator equation written out, and its per-unit rates."""

from __future__ import annotations

import torch

import rnnkit as rk

I, H, B = 3, 8, 5
f64 = torch.float64


def test_closed_form(randomise):
    cell = randomise(rk.LeakyCell(I, H).double())
    x, h = torch.randn(B, I, dtype=f64), torch.randn(B, H, dtype=f64)
    a = 1 / (1 + torch.exp(-cell.rate_logit))
    candidate = torch.tanh(
        x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    )
    y, h1 = cell(x, h)
    torch.testing.assert_close(h1, a * h + (1 - a) * candidate)
    torch.testing.assert_close(cell.rate, a)
    assert y is h1


def test_rates_in_unit_interval_and_spread_over_time_scales():
    rate = rk.LeakyCell(I, 16).rate.detach().double()
    assert ((rate > 0) & (rate < 1)).all()
    tau = 1 / (1 - rate)  # steps a unit integrates over
    assert tau.min() < 2 and tau.max() > 50  # fast and slow memories
    ratios = tau[1:] / tau[:-1]
    torch.testing.assert_close(
        ratios, ratios.mean().expand_as(ratios), rtol=1e-3, atol=0
    )  # geometric spread


def test_single_unit_rate_is_in_the_middle():
    tau = 1 / (1 - rk.LeakyCell(I, 1).rate.detach().double())
    assert 5 < tau.item() < 20  # the geometric mean of 1.25 and 100 steps is ~11


def test_rate_stays_in_range_for_any_logit():
    cell = rk.LeakyCell(I, H)
    with torch.no_grad():
        cell.rate_logit.copy_(torch.linspace(-30, 30, H))
    assert ((cell.rate >= 0) & (cell.rate <= 1)).all()


def test_rate_is_learned():
    cell = rk.LeakyCell(I, H)
    _, h = cell(torch.randn(B, I), torch.randn(B, H))
    h.sum().backward()
    assert cell.rate_logit.grad is not None and cell.rate_logit.grad.abs().sum() > 0


def test_slow_unit_forgets_slowly():
    """With zero weights the state decays as a^t: the slowest unit keeps the most."""
    cell = rk.LeakyCell(I, H)
    with torch.no_grad():
        cell.weight_ih.zero_()
        cell.weight_hh.zero_()
    h = torch.ones(1, H)
    for _ in range(10):
        _, h = cell(torch.zeros(1, I), h)
    torch.testing.assert_close(h[0], cell.rate.detach() ** 10)
    assert h[0, -1] > 0.8 and h[0, 0] < 1e-3
    assert cell.fused_mode is None
