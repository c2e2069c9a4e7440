"""Draw a cell unfolded through time, as in the lecture's figures (matplotlib only).

One column per time step: the input ``x_t`` at the bottom, the state ``h_t`` above it and the
output ``y_t`` on top; arrows carry ``W_ih`` (input to state) and ``W_hh`` (state to the next
state). An LSTM also carries its memory ``c_t`` along its own row above ``h_t``, which is the
lecture's point: the additive path through ``c`` is where the gradient survives.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..cells import GRUCell, LeakyCell, LSTMCell, RNNCell
from ..cells.base import RecurrentCell
from .plots import check_figure_path, plt, save_figure

COLUMN = 2.0  # horizontal distance between time steps
ROWS = {"x": 0.0, "h": 1.2, "c": 2.2, "y": 3.2}  # vertical position of each kind of box
COLOURS = {"x": "#cfe2f3", "h": "#d9ead3", "c": "#fff2cc", "y": "#f4cccc"}

EQUATIONS = {
    RNNCell: r"$h_t = \tanh(W_{ih} x_t + W_{hh} h_{t-1} + b)$,  $y_t = h_t$",
    LeakyCell: r"$h_t = a \odot h_{t-1} + (1-a) \odot \tanh(W_{ih} x_t + W_{hh} h_{t-1} + b)$",
    GRUCell: r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$,  gates from $W_{ih} x_t$, "
    r"$W_{hh} h_{t-1}$",
    LSTMCell: r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$,  $h_t = o_t \odot \tanh(c_t)$,  "
    r"gates from $W_{ih} x_t$, $W_{hh} h_{t-1}$",
}


def draw_unrolled(
    cell: RecurrentCell | object, steps: int = 3, path: str | os.PathLike = "unrolled.png"
) -> Path:
    """Draw ``cell`` unrolled over ``steps`` time steps into ``path`` (.png or .svg).

    ``cell`` is an rnnkit cell, or a layer with ``cells`` (its first cell is drawn). Returns the
    path written.
    """
    cell = _the_cell(cell)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 12:
        raise ValueError(f"draw_unrolled: steps must be an int in [1, 12], got {steps!r}")
    path = check_figure_path(path)
    has_memory = isinstance(cell, LSTMCell)
    fig, ax = plt.subplots(figsize=(1.9 * (steps + 1) + 0.5, 4.4 if has_memory else 3.6))

    _box(ax, (0, ROWS["h"]), r"$h_0$", "h")
    if has_memory:
        _box(ax, (0, ROWS["c"]), r"$c_0$", "c")
    for t in range(1, steps + 1):
        col = t * COLUMN
        _box(ax, (col, ROWS["x"]), rf"$x_{{{t}}}$", "x")
        _box(ax, (col, ROWS["h"]), rf"$h_{{{t}}}$", "h")
        _arrow(ax, (col, ROWS["x"] + 0.25), (col, ROWS["h"] - 0.25), r"$W_{ih}$")
        _arrow(
            ax, (col - COLUMN + 0.4, ROWS["h"]), (col - 0.4, ROWS["h"]), r"$W_{hh}$", above=False
        )
        top = ROWS["y"] if has_memory else ROWS["c"]
        y_col = col - 0.25 if has_memory else col  # pass beside the c box
        _box(ax, (y_col, top), rf"$y_{{{t}}}$", "y")
        first = t == 1 and not has_memory  # beside an LSTM's c box there is no room for it
        _arrow(ax, (y_col, ROWS["h"] + 0.25), (y_col, top - 0.25), r"$=h_t$" if first else "")
        if has_memory:
            c_col = col + 0.35
            _box(ax, (c_col, ROWS["c"]), rf"$c_{{{t}}}$", "c")
            start = (col - COLUMN + (0.35 if t > 1 else 0) + 0.4, ROWS["c"])
            _arrow(ax, start, (c_col - 0.4, ROWS["c"]), r"$f_t\odot$")
            _arrow(ax, (c_col, ROWS["c"] - 0.25), (col + 0.2, ROWS["h"] + 0.25), r"$o_t\odot\tanh$")

    ax.text(
        (steps + 1) * COLUMN / 2,
        -0.75,
        EQUATIONS.get(type(cell), type(cell).__name__),
        ha="center",
        fontsize=9,
    )
    ax.set_title(f"{type(cell).__name__} unrolled for {steps} steps (shared weights)", fontsize=11)
    ax.set_xlim(-0.7, steps * COLUMN + 0.9)
    ax.set_ylim(-1.0, (ROWS["y"] if has_memory else ROWS["c"]) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return save_figure(fig, path)


def _the_cell(obj) -> RecurrentCell:
    if isinstance(obj, RecurrentCell):
        return obj
    cells = getattr(obj, "cells", None)
    if cells is not None and len(cells) and isinstance(cells[0], RecurrentCell):
        return cells[0]
    raise TypeError(
        f"draw_unrolled: expected an rnnkit cell or a layer with .cells, got {type(obj).__name__}"
    )


def _box(ax, centre: tuple[float, float], text: str, kind: str) -> None:
    x, y = centre
    ax.add_patch(
        FancyBboxPatch(
            (x - 0.3, y - 0.22),
            0.6,
            0.44,
            boxstyle="round,pad=0.03",
            facecolor=COLOURS[kind],
            edgecolor="black",
            linewidth=1,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=12)


def _arrow(ax, start, end, label: str, above: bool = True) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, linewidth=1.2))
    if label:
        mid_x, mid_y = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        horizontal = abs(end[0] - start[0]) > abs(end[1] - start[1])
        offset = (0, 0.13 if above else -0.15) if horizontal else (0.08, 0)
        ax.text(
            mid_x + offset[0],
            mid_y + offset[1],
            label,
            ha="center" if horizontal else "left",
            va="center",
            fontsize=8,
        )
