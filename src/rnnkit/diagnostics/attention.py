"""Attention heatmaps: which source positions each output step read."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from .plots import plt, save_figure


def plot_attention(
    panels: Sequence[tuple[Sequence[str], Sequence[str], Tensor]],
    path: str | os.PathLike,
    columns: int = 3,
    titles: Sequence[str] | None = None,
) -> Path:
    """One heatmap per ``(source tokens, output tokens, weights (len(output), len(source)))``,
    titled by ``titles`` if given (one per panel).

    Rows are output steps, columns source positions; a monotone diagonal is what a
    transliteration model should learn (letters are read roughly in order). Panels grow with
    long sources and outputs, so every token keeps a readable label. Written as PNG or SVG by
    the suffix of ``path``.
    """
    if not panels:
        raise ValueError("plot_attention: no panels to draw")
    if titles is not None and len(titles) != len(panels):
        raise ValueError(f"plot_attention: {len(titles)} titles for {len(panels)} panels")
    columns = min(columns, len(panels))
    rows = math.ceil(len(panels) / columns)
    width = max(3.2, 0.17 * max(len(source) for source, _, _ in panels))
    height = max(3.0, 0.17 * max(len(output) for _, output, _ in panels))
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, title in zip(axes.flat, titles or (), strict=False):
        ax.set_title(title, fontsize=9)
    for ax, (source, output, weights) in zip(axes.flat, panels, strict=False):
        weights = weights[: len(output), : len(source)].detach().cpu()
        if tuple(weights.shape) != (len(output), len(source)):
            raise ValueError(
                f"plot_attention: weights of shape {tuple(weights.shape)} do not cover "
                f"{len(output)} outputs x {len(source)} source tokens"
            )
        if len(output) == 0:  # an untrained model may say nothing: no empty image, a note
            ax.text(0.5, 0.5, "(no output)", ha="center", va="center", transform=ax.transAxes)
            ax.set_xlim(-0.5, len(source) - 0.5)
        else:
            ax.imshow(weights.numpy(), cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(source)), list(source))
        ax.set_yticks(range(len(output)), list(output), fontsize=8)
        ax.tick_params(length=0)
    fig.tight_layout()
    return save_figure(fig, path)
