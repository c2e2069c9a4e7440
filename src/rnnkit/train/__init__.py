"""Tier 5: training. A `Trainer` runs any model on any task through a small `Objective`.

    from rnnkit.train import Trainer, TrainConfig
    config = TrainConfig(max_steps=2000, batch_size=32, lr=1e-3, clip_norm=1.0, tbptt=50)
    trainer = Trainer(model, objective, train_set, config, out_dir="runs/lm", dev_set=dev_set)
    summary = trainer.fit(resume=True)

It covers full and truncated BPTT, clipping by norm or value, optimisers and LR schedules,
early stopping, atomic safetensors checkpoints with bit-exact resume (Ctrl-C saves the step it
stops at), checkpoint averaging, a non-finite guard, progress/CSV/TensorBoard logs and curve
plots, and data parallelism with torch.distributed.
See docs/training.md.
"""

from rnnkit.train.averaging import average_checkpoints
from rnnkit.train.checkpoint import (
    CheckpointError,
    best_checkpoint,
    latest_checkpoint,
    load_checkpoint,
    periodic_checkpoints,
    read_checkpoint,
    save_checkpoint,
)
from rnnkit.train.config import TrainConfig
from rnnkit.train.distributed import launch, unwrap
from rnnkit.train.interrupt import TrainingInterrupted
from rnnkit.train.objective import Objective, SizedObjective, TBPTTObjective
from rnnkit.train.trainer import NonFiniteLossError, Trainer, TrainSummary

__all__ = [
    "CheckpointError",
    "NonFiniteLossError",
    "Objective",
    "SizedObjective",
    "TBPTTObjective",
    "TrainConfig",
    "TrainSummary",
    "Trainer",
    "TrainingInterrupted",
    "average_checkpoints",
    "best_checkpoint",
    "latest_checkpoint",
    "launch",
    "load_checkpoint",
    "periodic_checkpoints",
    "read_checkpoint",
    "save_checkpoint",
    "unwrap",
]
