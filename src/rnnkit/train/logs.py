"""Run logs on rank 0: `train.csv`, `dev.csv` and TensorBoard event files.

CSV is the record of truth (plots are drawn from it). `tensorboard` is a dependency of rnnkit;
where it has been removed from an environment, the event files are skipped silently. On resume,
rows written after the checkpoint by the interrupted run are dropped so each step appears once.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

TRAIN_CSV = "train.csv"
DEV_CSV = "dev.csv"
TRAIN_FIELDS = ["step", "epoch", "loss", "lr", "grad_norm", "clipped", "skipped", "items_per_s"]


class RunLog:
    """Appends training and dev rows to CSV files (and TensorBoard) under `out_dir`."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._tensorboard = _open_tensorboard(out_dir / "tensorboard")

    def truncate_after(self, step: int) -> None:
        """Forget rows of steps > `step` (written by a run that was then interrupted)."""
        for name in (TRAIN_CSV, DEV_CSV):
            path = self.out_dir / name
            if not path.is_file():
                continue
            with open(path, newline="") as handle:
                rows = list(csv.reader(handle))
            kept = rows[:1] + [row for row in rows[1:] if row and int(row[0]) <= step]
            with open(path, "w", newline="") as handle:
                csv.writer(handle).writerows(kept)

    def train(self, row: dict[str, Any]) -> None:
        """Write one training row (keys: TRAIN_FIELDS)."""
        self._append(TRAIN_CSV, TRAIN_FIELDS, row)
        self._scalars("train", row)

    def dev(self, step: int, metrics: dict[str, float]) -> None:
        """Write one row of dev metrics at `step`."""
        fields = self._header(DEV_CSV) or ["step", *sorted(metrics)]
        self._append(DEV_CSV, fields, {"step": step, **metrics})
        self._scalars("dev", {"step": step, **metrics})

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()

    def _append(self, name: str, fields: list[str], row: dict[str, Any]) -> None:
        path = self.out_dir / name
        new = not path.is_file()
        with open(path, "a", newline="") as handle:
            # A metric missing from a later evaluation is left blank rather than failing.
            writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({key: _format(value) for key, value in row.items()})

    def _header(self, name: str) -> list[str] | None:
        path = self.out_dir / name
        if not path.is_file():
            return None
        with open(path, newline="") as handle:
            return next(csv.reader(handle), None)

    def _scalars(self, group: str, row: dict[str, Any]) -> None:
        if self._tensorboard is None:
            return
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)):
                self._tensorboard.add_scalar(f"{group}/{key}", value, row["step"])


def _format(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def _open_tensorboard(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(path))
