"""The spectral radius of the recurrent matrices."""

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.diagnostics import spectral_radii, spectral_radius


def test_equals_the_largest_absolute_eigenvalue():
    matrix = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    expected = np.abs(np.linalg.eigvals(matrix.numpy().astype(np.float64))).max()
    assert spectral_radius(matrix) == pytest.approx(expected, rel=1e-10)
    assert spectral_radius(matrix) == pytest.approx(torch.linalg.eigvals(matrix).abs().max().item())


def test_closed_forms():
    assert spectral_radius(torch.diag(torch.tensor([0.3, -2.0, 1.0]))) == pytest.approx(2.0)
    rotation = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # eigenvalues +-i
    assert spectral_radius(0.7 * rotation) == pytest.approx(0.7)
    nilpotent = torch.tensor([[0.0, 5.0], [0.0, 0.0]])  # large norm, radius 0
    assert spectral_radius(nilpotent) == pytest.approx(0.0)


def test_one_radius_per_gate_block():
    cell = rk.GRUCell(3, 4)
    radii = spectral_radii(cell)
    assert list(radii) == ["r", "z", "n"]
    blocks = cell.weight_hh.detach().chunk(3, 0)
    for radius, block in zip(radii.values(), blocks, strict=True):
        assert radius == pytest.approx(torch.linalg.eigvals(block).abs().max().item())
    assert list(spectral_radii(rk.RNNCell(3, 4))) == ["hh"]


def test_non_square_is_an_error():
    with pytest.raises(ValueError, match="square"):
        spectral_radius(torch.zeros(2, 3))
