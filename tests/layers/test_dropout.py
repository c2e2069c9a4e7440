"""Dropout: torch's distribution, a boolean mask saved for backward, exact scaling."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rnnkit.layers import Dropout, dropout
from rnnkit.layers.dropout import _UNIFORM_FROM

P = 0.3
# Tensors below the size at which the mask is drawn as uniforms go to torch's kernel: both paths.
SIZES = pytest.mark.parametrize("rows", [1, _UNIFORM_FROM // 16], ids=["torch's", "uniforms"])


@SIZES
def test_kept_elements_are_scaled_and_the_rest_zeroed(rows):
    x = torch.rand(rows, 16) + 0.5  # no zeros of its own
    y = dropout(x, P)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - P), rtol=1e-6, atol=0)
    assert 0 < kept.sum() < x.numel()


def test_same_distribution_as_torch():
    # 10^6 draws: the share of zeros has a standard deviation of 0.00046 around p.
    x = torch.ones(1_000, 1_000)
    ours, torchs = dropout(x, P), F.dropout(x, P, training=True)
    for y in (ours, torchs):
        assert (y == 0).float().mean().item() == pytest.approx(P, abs=0.003)
        assert y.mean().item() == pytest.approx(1.0, abs=0.005)  # unbiased
    # one mask per element, not per row or column
    rows_dropped = (ours == 0).float().mean(dim=1)
    assert rows_dropped.std().item() == pytest.approx((P * (1 - P) / 1_000) ** 0.5, rel=0.2)


@SIZES
def test_gradient_is_the_mask_over_keep(rows):
    x = (torch.rand(rows, 16, dtype=torch.float64) + 0.5).requires_grad_()
    y = dropout(x, P)
    y.backward(torch.ones_like(y))
    torch.testing.assert_close(x.grad, (y != 0).double() / (1 - P))

    def seeded(x):  # gradcheck calls it many times: the same mask each time
        torch.manual_seed(1)
        return dropout(x, P)

    assert torch.autograd.gradcheck(seeded, (x.detach().requires_grad_(),), fast_mode=True)


def test_backward_keeps_only_a_boolean_mask():
    saved = []
    x = torch.randn(_UNIFORM_FROM, requires_grad=True)  # torch's CPU kernel would save floats
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        dropout(x, P)
    assert [t.dtype for t in saved] == [torch.bool]


def test_identity_when_off():
    x = torch.randn(4, 5)
    assert dropout(x, P, training=False) is x
    assert dropout(x, 0.0) is x
    module = Dropout(P).eval()
    assert module(x) is x
    assert (module.train()(torch.ones(100, 100)) == 0).any()
    assert repr(module) == "Dropout(p=0.3)"


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5])
def test_probability_outside_range_is_refused(p):
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\), got"):
        dropout(torch.ones(2), p)
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\), got"):
        Dropout(p)
