"""Loss and metric curves of a run, drawn from its CSV logs into `curves.png`."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt

from rnnkit.train.logs import DEV_CSV, TRAIN_CSV


def plot_curves(out_dir: Path) -> Path | None:
    """Draw training loss, gradient norm and dev metrics against step; return the PNG path."""
    train = _read_columns(out_dir / TRAIN_CSV)
    if not train.get("step"):
        return None
    dev = _read_columns(out_dir / DEV_CSV)
    metrics = [key for key in dev if key != "step"]
    panels = 2 + bool(metrics)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), constrained_layout=True)
    _panel(axes[0], train["step"], {"train loss": train["loss"]}, "loss")
    _panel(axes[1], train["step"], {"grad norm (before clipping)": train["grad_norm"]}, "norm")
    if metrics:
        _panel(axes[2], dev["step"], {key: dev[key] for key in metrics}, "dev metrics")
    path = out_dir / "curves.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _panel(ax, steps: list[float], series: dict[str, list[float]], ylabel: str) -> None:
    for label, values in series.items():
        points = [(s, v) for s, v in zip(steps, values) if v == v]  # drop NaN (blank cells)
        ax.plot([s for s, _ in points], [v for _, v in points], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()


def _read_columns(path: Path) -> dict[str, list[float]]:
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {key: [_number(row[key]) for row in rows] for key in rows[0]}


def _number(text: str | None) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")
