"""Plots of measured gradient flow: norms by distance (log scale) and spectral radii."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never open a window, work without a display
import matplotlib.pyplot as plt

from .flow import GradientFlow

FORMATS = (".png", ".svg")


def check_figure_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, if it names a PNG or SVG file (the formats we write)."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"figure path must end in .png or .svg, got {str(path)!r}")
    return path


def save_figure(fig: plt.Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` to ``path`` (PNG or SVG, by suffix), creating folders, and close it."""
    path = check_figure_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # SVG text stays text (searchable, smaller); PNG is unaffected
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            fig.savefig(path, dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def plot_gradient_flow(
    flows: GradientFlow | Mapping[str, GradientFlow], path: str | os.PathLike
) -> Path:
    """Plot ``||dL/dh||`` against the distance travelled back in time, and the spectral radii.

    ``flows`` is one measurement or several by label (e.g. ``{"rnn": ..., "lstm": ...}``); every
    layer of every flow is one line. Returns the path written.
    """
    if isinstance(flows, GradientFlow):
        flows = {"": flows}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), width_ratios=(3, 2))
    bars: dict[str, float] = {}
    for label, flow in flows.items():
        for layer in flow.layers:
            single = label and len(flow.layers) == 1  # the label alone says which it is
            name = label if single else " ".join(part for part in (label, layer.name) if part)
            norms = layer.by_distance().clamp_min(1e-30)  # log scale: no zeros
            left.plot(range(len(norms)), norms, label=name)
            for gate, radius in layer.spectral_radius.items():
                bars[f"{name} {gate}"] = radius
    left.set_yscale("log")
    left.set_xlabel("distance k back from the last step")
    left.set_ylabel(r"$\|\partial L / \partial h_{T-k}\|$")
    left.set_title("gradient flow through time")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    right.bar(range(len(bars)), list(bars.values()), color="tab:gray")
    right.axhline(1.0, color="tab:red", linestyle="--", linewidth=1)
    right.set_xticks(range(len(bars)), list(bars), fontsize=7, rotation=90)
    right.set_ylabel("spectral radius")
    right.set_title(r"recurrent matrices ($W_{hh}$ per gate)")
    return save_figure(fig, path)
