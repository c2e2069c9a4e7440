"""Spectral radius of the recurrent matrices: the first-order predictor of vanishing/exploding.

Backpropagation through time multiplies the gradient by the recurrent Jacobian once per step.
For a linear recurrence that Jacobian *is* ``W_hh``, and its spectral radius (the largest
``|eigenvalue|``) decides whether the gradient shrinks (< 1) or grows (> 1) geometrically with
the distance. Gated cells have one recurrent block per gate, each reported on its own.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..cells import GRUCell, LSTMCell
from ..cells.base import RecurrentCell

# Gate blocks of weight_hh in their stacking order (PyTorch's layout, which the cells keep).
GATE_NAMES: dict[type[RecurrentCell], tuple[str, ...]] = {
    LSTMCell: ("i", "f", "g", "o"),
    GRUCell: ("r", "z", "n"),
}


def spectral_radius(matrix: Tensor) -> float:
    """The largest absolute eigenvalue of a square matrix."""
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"spectral_radius: expected a square matrix, got shape {tuple(matrix.shape)}"
        )
    with torch.no_grad():
        return torch.linalg.eigvals(matrix.detach().double().cpu()).abs().max().item()


def recurrent_blocks(cell: RecurrentCell) -> dict[str, Tensor]:
    """The square recurrent matrices of ``cell`` by gate name (``"hh"`` for a one-block cell)."""
    names = GATE_NAMES.get(type(cell))
    blocks = cell.weight_hh.chunk(cell.num_gates, 0)
    if names is None:
        names = ("hh",) if cell.num_gates == 1 else tuple(f"W_hh[{k}]" for k in range(len(blocks)))
    return dict(zip(names, blocks, strict=True))


def spectral_radii(cell: RecurrentCell) -> dict[str, float]:
    """The spectral radius of each recurrent block of ``cell``, by gate name."""
    return {name: spectral_radius(block) for name, block in recurrent_blocks(cell).items()}


def named_cells(model: nn.Module) -> dict[RecurrentCell, str]:
    """Every rnnkit cell inside ``model`` with a readable name (layer and direction when the
    cell belongs to a :class:`~rnnkit.Recurrent`)."""
    names: dict[RecurrentCell, str] = {}
    if isinstance(model, RecurrentCell):
        return {model: type(model).__name__}
    for parent_name, parent in model.named_modules():
        cells = getattr(parent, "cells", None)
        directions = getattr(parent, "num_directions", None)
        if not isinstance(cells, nn.ModuleList) or directions is None:
            continue
        for index, cell in enumerate(cells):
            layer, direction = divmod(index, directions)
            where = f"{parent_name}." if parent_name else ""
            suffix = ", backward" if direction == 1 else ""
            names[cell] = f"{where}layer {layer}{suffix}"
    for module_name, module in model.named_modules():  # cells outside a Recurrent layer
        if isinstance(module, RecurrentCell) and module not in names:
            names[module] = module_name or type(module).__name__
    return names
