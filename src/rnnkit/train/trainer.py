"""The Trainer: runs an Objective over a dataset with a TrainConfig, and writes the run."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rnnkit.train.config import TrainConfig


class NonFiniteLossError(FloatingPointError):
    """Training met `max_nonfinite` consecutive steps with a non-finite loss or gradient."""


@dataclasses.dataclass
class TrainSummary:
    """What `Trainer.fit` returns (also written to `out_dir/summary.json`)."""

    steps: int
    epochs: float
    final_loss: float | None
    stop_reason: str
    best_metric: float | None
    best_step: int | None
    metrics: dict[str, float]
    skipped_steps: int
    clipped_fraction: float
    elapsed_s: float
    last_checkpoint: str | None
    best_checkpoint: str | None


class Trainer:
    """Train `model` on `train_set` with the task's `objective`, writing to `out_dir`."""

    def __init__(
        self,
        model: torch.nn.Module,
        objective: Any,
        train_set: Sequence[Any],
        config: TrainConfig,
        out_dir: str | os.PathLike,
        dev_set: Sequence[Any] | None = None,
        *,
        model_config: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.objective = objective
        self.train_set = train_set
        self.config = config
        self.out_dir = Path(out_dir)
        self.dev_set = dev_set
        self.model_config = model_config

    def fit(self, resume: bool = False) -> TrainSummary:
        raise NotImplementedError
