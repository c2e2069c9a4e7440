"""Compare the gradient flow of several cells on the same random sequence (``rnnkit gradflow``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..layers import Recurrent
from .flow import GradientFlow, gradient_flow
from .table import markdown_table

DISTANCES = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def compare_cells(
    cells: Sequence[str],
    length: int,
    *,
    input_size: int = 8,
    hidden_size: int = 64,
    batch_size: int = 16,
    seed: int = 0,
) -> dict[str, GradientFlow]:
    """The gradient flow of a freshly initialised one-layer ``Recurrent`` of each cell kind.

    Every cell reads the same standard-normal input of ``length`` steps; the loss is the sum of
    the last step's output, so ``||dL/dh_{T-k}||`` is the signal that travels k steps back.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    x = torch.randn(batch_size, length, input_size, generator=torch.Generator().manual_seed(seed))
    flows = {}
    for cell in cells:
        torch.manual_seed(seed)  # the same initialisation recipe for every cell
        flows[cell] = gradient_flow(Recurrent(cell, input_size, hidden_size), x)
    return flows


def flow_table(flows: dict[str, GradientFlow], distances: Sequence[int] = DISTANCES) -> str:
    """``||dL/dh_{T-k}||`` by distance k (rows) and cell (columns), with spectral radii.

    Flows of different lengths (trained models of different tasks) share the rows; a flow
    shorter than a row's distance shows "-" there.
    """
    norms = {name: flow.layers[0].by_distance() for name, flow in flows.items()}
    length = max(len(n) for n in norms.values())
    shown = [k for k in distances if k < length] or [0]
    if length - 1 not in shown:
        shown.append(length - 1)
    names = list(flows)
    header = ["distance k", *names]
    rows = [
        [
            str(k),
            *(f"{norms[name][k].item():.3e}" if k < len(norms[name]) else "-" for name in names),
        ]
        for k in shown
    ]
    rows.append(
        [
            "spectral radius",
            *(
                ", ".join(f"{g}={r:.2f}" for g, r in flows[name].layers[0].spectral_radius.items())
                for name in names
            ),
        ]
    )
    return markdown_table(header, rows)
