"""The Trainer: runs an Objective over a dataset as a TrainConfig says, and records the run.

One step = one global batch: collate, forward/backward (whole sequences, or chunk by chunk
under truncated BPTT with an optimiser update per chunk), clip, guard against non-finite
values, update. Around the steps: LR schedule, logs, dev evaluation with early stopping,
checkpoints. Everything random is a function of the seed and the step, so a run resumed
from a checkpoint is bit-identical to one that never stopped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rnnkit.train import distributed
from rnnkit.train.checkpoint import (
    BEST_DIR,
    atomic_directory,
    best_checkpoint,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    read_checkpoint,
    save_checkpoint,
    step_checkpoint_path,
    write_model_files,
)
from rnnkit.train.config import TrainConfig
from rnnkit.train.data import BatchOrder, detach_state, to_device
from rnnkit.train.gradients import clip_gradients
from rnnkit.train.interrupt import StopRequests, TrainingInterrupted
from rnnkit.train.logs import DEV_CSV, TRAIN_CSV, RunLog
from rnnkit.train.objective import check_objective
from rnnkit.train.optim import LRSchedule, build_optimizer
from rnnkit.train.progress import Progress
from rnnkit.train.state import (
    preserved_rng,
    read_training_state,
    restore_rng,
    rng_snapshot,
    seed_everything,
    write_training_state,
)

logger = logging.getLogger(__name__)

# Config fields that may change between an interrupted run and its resumption without
# breaking exactness (they steer bookkeeping, not the arithmetic of the updates), unless the
# learning-rate schedule reads them (LRSchedule.reads).
_RESUMABLE_CHANGES = {
    "max_steps", "eval_every", "checkpoint_every", "keep_checkpoints", "patience",
    "log_every", "progress", "device", "max_nonfinite",
}  # fmt: skip


class NonFiniteLossError(FloatingPointError):
    """Training met `max_nonfinite` consecutive steps with a non-finite loss or gradient."""


@dataclasses.dataclass
class TrainSummary:
    """What `Trainer.fit` returns (also written to `out_dir/summary.json`).

    Attributes:
        steps: steps done (global batches, including skipped ones).
        epochs: steps as a fraction of passes over the training set.
        final_loss: mean training loss of the last step (None if it was skipped).
        stop_reason: "max_steps" or "early_stopping".
        best_metric, best_step: the best dev value of `objective.metric` and its step.
        metrics: the last dev evaluation.
        skipped_steps: steps skipped for non-finite loss or gradients.
        clipped_fraction: fraction of optimiser updates whose gradients were clipped.
        elapsed_s: wall time of this `fit` call.
        last_checkpoint, best_checkpoint: directories (None if never written).
    """

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


@dataclasses.dataclass
class _RunState:
    """Progress that a checkpoint restores (JSON-compatible)."""

    step: int = 0
    updates: int = 0
    clipped_updates: int = 0
    skipped_steps: int = 0
    nonfinite_in_a_row: int = 0
    best_metric: float | None = None
    best_step: int | None = None
    bad_evals: int = 0
    last_eval_step: int | None = None
    early_stopped: bool = False
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _StepResult:
    loss: float | None  # mean over the step's chunks; None when the step was skipped
    grad_norm: float
    clipped: int  # updates whose gradients were clipped
    updates: int


class Trainer:
    """Train `model` on `train_set` through a task's `objective`, writing to `out_dir`.

    Args:
        model: any `torch.nn.Module`; moved to the training device.
        objective: an `Objective` (a `TBPTTObjective` when `config.tbptt` is set).
        train_set: a sequence of examples (`len` and integer indexing).
        config: the `TrainConfig`.
        out_dir: where checkpoints, logs and plots go (created if needed).
        dev_set: examples for `objective.evaluate`; enables early stopping and `best/`.
        model_config: JSON-compatible description saved in every checkpoint so the model can
            be rebuilt for inference (`read_checkpoint(path)["config"]`).

    Under torch.distributed (an initialised process group, or torchrun's environment), each
    rank trains on its slice of every global batch, gradients are averaged by DDP, and rank
    0 alone evaluates, logs and writes files.
    """

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
        if not isinstance(config, TrainConfig):
            raise TypeError(f"Trainer: config must be a TrainConfig, got {type(config).__name__}")
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"Trainer: model must be a torch.nn.Module, got {type(model)}")
        check_objective(
            objective,
            tbptt=config.tbptt is not None,
            needs_metric=dev_set is not None,
            bucket=config.bucket,
        )
        if config.schedule == "plateau" and dev_set is None:
            raise ValueError("TrainConfig.schedule='plateau' follows the dev metric: pass dev_set")
        if model_config is not None:
            json.dumps(model_config)  # fail now, not at the first checkpoint
        wanted = _requested_device(config, model)
        self.info = distributed.init_from_env("nccl" if wanted.type == "cuda" else "gloo")
        if config.batch_size % self.info.world_size:
            raise ValueError(
                f"TrainConfig.batch_size={config.batch_size} must be divisible by the world size "
                f"{self.info.world_size} (each rank takes an equal share of a global batch)"
            )
        self.config = config
        self.objective = objective
        self.train_set = train_set
        self.dev_set = dev_set
        self.out_dir = Path(out_dir)
        self.model_config = model_config
        # Under data parallelism on CUDA, each local rank takes its own GPU.
        distributed_cuda = self.info.enabled and wanted.type == "cuda" and wanted.index is None
        self.device = torch.device("cuda", self.info.local_rank) if distributed_cuda else wanted
        self.model = model.to(self.device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(self.params, config)
        self.schedule = LRSchedule(config)
        lengths = [objective.length(example) for example in train_set] if config.bucket else None
        self.order = BatchOrder(len(train_set), config.batch_size, config.seed, lengths)
        self.state = _RunState()
        self._checkpointed_step: int | None = None
        # What the objective's loss sees: the DDP wrapper, so backward averages gradients.
        self._forward_model = distributed.wrap(self.model, self.info, self.device)

    def fit(self, resume: bool = False) -> TrainSummary:
        """Train until `max_steps` or early stopping; return a `TrainSummary`.

        Args:
            resume: continue from the latest checkpoint in `out_dir` (or start fresh if there
                is none). Without it, an `out_dir` that already holds checkpoints is an error,
                so a finished run is never overwritten by accident.

        Raises:
            FileExistsError: `out_dir` holds checkpoints and `resume` is False, or a best/
                checkpoint and no periodic one (a fresh run would replace it).
            NonFiniteLossError: `max_nonfinite` consecutive steps were non-finite.
            TrainingInterrupted: Ctrl-C or SIGTERM arrived (single-process runs); the step
                under way was finished and checkpointed, so `resume=True` loses nothing. A
                second signal raises a plain KeyboardInterrupt at once.
        """
        started = time.perf_counter()
        self._begin(resume)
        main = self.info.is_main
        log = RunLog(self.out_dir) if main else None
        if log is not None:
            log.truncate_after(self.state.step)
        bar = Progress(self.config.max_steps, self.state.step, self.config.progress and main)
        last: _StepResult | None = None
        # Single-process runs only: under data parallelism every rank would have to agree on
        # the step to stop at, so there a signal interrupts at once, as before.
        stop = StopRequests(enabled=not self.info.enabled)
        try:
            window: list[_StepResult] = []
            window_start = time.perf_counter()
            with stop:
                while (
                    self.state.step < self.config.max_steps
                    and not self.state.early_stopped
                    and not stop.requested
                ):
                    lr = self.schedule.apply(self.optimizer, self.state.step)
                    last = self._train_step()
                    self.state.step += 1
                    window.append(last)
                    rate = (
                        len(window) * self.config.batch_size / (time.perf_counter() - window_start)
                    )
                    bar.update(last.loss if last.loss is not None else math.nan, rate)
                    if self._due(self.config.log_every):
                        if log is not None:
                            log.train(self._log_row(window, lr, rate))
                        window, window_start = [], time.perf_counter()
                    if self.dev_set is not None and self._due(self.config.eval_every):
                        self._evaluate(log)
                        if main and self.config.progress:
                            bar.write(self._dev_line())
                    if self._due(self.config.checkpoint_every) or stop.requested:
                        self._save_checkpoint()
            if window and log is not None:  # the steps since the last row, so none go unlogged
                log.train(self._log_row(window, lr, rate))
            if stop.requested:
                checkpoint = step_checkpoint_path(self.out_dir, self.state.step)
                raise TrainingInterrupted(self.state.step, checkpoint)
            self._finish(log)
        finally:
            bar.close()
            if log is not None:
                log.close()
        return self._summary(last, time.perf_counter() - started)

    # -- one step -----------------------------------------------------------------------

    def _train_step(self) -> _StepResult:
        """Train on the batch of `state.step`; skip it if anything turns non-finite."""
        indices = self.order.local_batch(self.state.step, self.info.rank, self.info.world_size)
        batch = self.objective.collate([self.train_set[i] for i in indices])
        batch = to_device(batch, self.device)
        self._forward_model.train()  # the wrapper too: DDP consults its own training flag
        tbptt = self.config.tbptt
        chunks = [batch] if tbptt is None else self.objective.split_time(batch, tbptt)
        losses, norms, clipped, recurrent_state = [], [], 0, None
        for chunk in chunks:
            if tbptt is None:
                loss = self.objective.loss(self._forward_model, chunk)
            else:
                loss, recurrent_state = self.objective.loss_with_state(
                    self._forward_model, chunk, recurrent_state
                )
                # Truncation: the next chunk starts from this state's value, not its history.
                recurrent_state = detach_state(recurrent_state)
            value, norm, was_clipped = self._update(loss)
            norms.append(norm)
            if not (math.isfinite(value) and math.isfinite(norm)):
                # A non-finite chunk poisons the carried state: abandon the rest of the batch.
                self._skip(value, norm)
                return _StepResult(None, norm, clipped, len(losses))
            losses.append(value)
            clipped += was_clipped
        self.state.nonfinite_in_a_row = 0
        return _StepResult(sum(losses) / len(losses), sum(norms) / len(norms), clipped, len(losses))

    def _update(self, loss: torch.Tensor) -> tuple[float, float, bool]:
        """Backward, clip and (if finite) apply one optimiser update.

        Returns the loss averaged over ranks, the gradient norm before clipping and whether
        it was clipped. Every rank reaches the same verdict on finiteness, because DDP has
        already averaged the gradients and the loss is averaged here.
        """
        if not (isinstance(loss, torch.Tensor) and loss.numel() == 1 and loss.requires_grad):
            got = f"shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else type(loss)
            raise TypeError(
                f"objective loss must be a scalar tensor that requires grad (the mean over "
                f"the batch); got {got}"
            )
        loss.backward()
        value = distributed.all_mean(loss.detach().item(), self.info, self.device)
        stats = clip_gradients(self.params, self.config.clip_norm, self.config.clip_value)
        if math.isfinite(value) and math.isfinite(stats.norm):
            self.optimizer.step()
            self.state.updates += 1
            self.state.clipped_updates += stats.clipped
        self.optimizer.zero_grad(set_to_none=True)
        return value, stats.norm, stats.clipped

    def _skip(self, loss: float, norm: float) -> None:
        self.state.skipped_steps += 1
        self.state.nonfinite_in_a_row += 1
        in_a_row, limit = self.state.nonfinite_in_a_row, self.config.max_nonfinite
        message = (
            f"step {self.state.step}: non-finite loss {loss} or gradient norm {norm}; "
            f"update skipped ({in_a_row} in a row, limit max_nonfinite={limit})"
        )
        if in_a_row >= limit:
            raise NonFiniteLossError(
                f"{message}. Training diverged: lower lr, set clip_norm, or check the data "
                "and the loss for inf/NaN (e.g. log(0))."
            )
        if self.info.is_main:
            logger.warning(message)

    # -- evaluation, checkpoints ----------------------------------------------------------

    def _evaluate(self, log: RunLog | None, scheduled: bool = True) -> None:
        """Score the dev set (rank 0), track the best, decide on early stopping. The evaluation
        that ends a run off the ``eval_every`` period is not ``scheduled``: it may still give the
        best checkpoint, but counts neither towards early stopping nor towards the plateau
        schedule (a run that reached ``max_steps`` says so, and one resumed to train longer
        stops and decays when its evaluations, not this extra one, say)."""
        metrics = self._dev_metrics() if self.info.is_main else None
        metrics = distributed.broadcast_object(metrics, self.info)
        st = self.state
        st.last_eval_step, st.metrics = st.step, metrics
        value = metrics[self.objective.metric]
        improved = _improves(value, st.best_metric, self.objective.higher_is_better)
        if scheduled:
            self.schedule.observe(improved)
            st.bad_evals = 0 if improved else st.bad_evals + 1
        if improved:
            st.best_metric, st.best_step = value, st.step
            if self.info.is_main:
                save_checkpoint(
                    self.out_dir / BEST_DIR,
                    self.model,
                    config=self.model_config,
                    metadata=self._metadata(),
                )
        if log is not None:
            log.dev(st.step, metrics)
        patience = self.config.patience
        if patience is not None and st.bad_evals >= patience:
            st.early_stopped = True  # saved: resuming a stopped run does not train on

    def _dev_line(self) -> str:
        """The latest dev evaluation in one line, for people watching the run."""
        st = self.state
        scores = "  ".join(f"{key} {value:.4g}" for key, value in st.metrics.items())
        best = "  (best so far)" if st.best_step == st.step else ""
        return f"step {st.step}/{self.config.max_steps}  dev {scores}{best}"

    def _dev_metrics(self) -> dict[str, float]:
        was_training = self.model.training
        self.model.eval()
        # preserved_rng: evaluating (e.g. by sampling) must not shift training's random draws.
        with torch.no_grad(), preserved_rng():
            metrics = self.objective.evaluate(self.model, self.dev_set)
        self.model.train(was_training)
        if not isinstance(metrics, dict) or self.objective.metric not in metrics:
            keys = list(metrics) if isinstance(metrics, dict) else type(metrics).__name__
            raise ValueError(
                f"objective.evaluate must return a dict containing objective.metric="
                f"{self.objective.metric!r}; got {keys}"
            )
        return {key: float(value) for key, value in metrics.items()}

    def _save_checkpoint(self) -> None:
        """Write checkpoints/step-N (rank 0), then keep only the newest few."""
        rngs = distributed.gather_objects(rng_snapshot(), self.info)  # a collective: all ranks
        self._checkpointed_step = self.state.step
        if not self.info.is_main:
            return
        extra = {
            "run": dataclasses.asdict(self.state),
            "schedule": self.schedule.state_dict(),
            "world_size": self.info.world_size,
        }
        with atomic_directory(step_checkpoint_path(self.out_dir, self.state.step)) as tmp:
            write_model_files(tmp, self.model, config=self.model_config, metadata=self._metadata())
            write_training_state(tmp, self.optimizer, rngs, extra)
        prune_checkpoints(self.out_dir, self.config.keep_checkpoints)

    def _metadata(self) -> dict[str, Any]:
        return {
            "step": self.state.step,
            "train_config": self.config.to_dict(),
            "metrics": self.state.metrics,
        }

    def _finish(self, log: RunLog | None) -> None:
        """Final evaluation and checkpoint (unless the last step just had them), plots."""
        if self.dev_set is not None and self.state.last_eval_step != self.state.step:
            self._evaluate(log, scheduled=False)
        if self._checkpointed_step != self.state.step:
            self._save_checkpoint()
        if self.info.is_main:
            # Imported here: matplotlib costs about a second, paid only when a run ends.
            from rnnkit.train.plots import plot_curves

            plot_curves(self.out_dir)

    # -- start and resume -----------------------------------------------------------------

    def _begin(self, resume: bool) -> None:
        latest = latest_checkpoint(self.out_dir)
        if latest is not None and not resume:
            raise FileExistsError(
                f"{self.out_dir} already holds checkpoints (latest: {latest}); pass resume=True "
                "to continue that run, or choose a new out_dir"
            )
        if latest is not None:
            self._restore(latest)
            return
        if best_checkpoint(self.out_dir) is not None:
            raise FileExistsError(
                f"{self.out_dir} holds a best/ checkpoint but no periodic checkpoint to resume "
                "from, and a fresh run would replace it; choose a new out_dir"
            )
        if resume and self.info.is_main:  # a mistyped directory should not pass unnoticed
            logger.warning("nothing to resume in %s (no checkpoint): starting from step 0",
                           self.out_dir)  # fmt: skip
        if self.info.is_main:  # a fresh run: drop logs of an attempt that never checkpointed
            for name in (TRAIN_CSV, DEV_CSV):
                (self.out_dir / name).unlink(missing_ok=True)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.state = _RunState()
        seed_everything(self.config.seed + self.info.rank)

    def _restore(self, path: Path) -> None:
        """Load weights, optimiser, schedule, progress and RNG streams from checkpoint `path`."""
        saved_config = read_checkpoint(path)["train_config"]
        resumable = _RESUMABLE_CHANGES - self.schedule.reads()
        changed = sorted(
            key
            for key, value in self.config.to_dict().items()
            if saved_config.get(key) != value and key not in resumable
        )
        if changed and self.info.is_main:
            logger.warning("resuming %s with changed config %s: not bit-exact", path, changed)
        load_checkpoint(path, self.model, device=self.device)
        extra, rngs = read_training_state(path, self.optimizer)
        self.schedule.load_state_dict(extra["schedule"])
        self.state = _RunState(**extra["run"])
        self._checkpointed_step = self.state.step
        if len(rngs) == self.info.world_size:
            restore_rng(rngs[self.info.rank])
        else:
            logger.warning(
                "checkpoint %s was written by %d ranks, now %d: random streams re-seeded",
                path,
                len(rngs),
                self.info.world_size,
            )
            seed_everything(self.config.seed + self.info.rank + self.state.step)

    # -- bookkeeping ----------------------------------------------------------------------

    def _due(self, every: int | None) -> bool:
        return every is not None and self.state.step % every == 0

    def _log_row(self, window: list[_StepResult], lr: float, rate: float) -> dict[str, Any]:
        losses = [r.loss for r in window if r.loss is not None]
        updates = sum(r.updates for r in window)
        return {
            "step": self.state.step,
            "epoch": self.state.step / self.order.batches_per_epoch,
            "loss": sum(losses) / len(losses) if losses else math.nan,
            "lr": lr,
            "grad_norm": sum(r.grad_norm for r in window) / len(window),
            "clipped": sum(r.clipped for r in window) / updates if updates else 0.0,
            "skipped": sum(r.loss is None for r in window),
            "items_per_s": rate,
        }

    def _summary(self, last: _StepResult | None, elapsed: float) -> TrainSummary:
        st = self.state
        latest = latest_checkpoint(self.out_dir)
        best = self.out_dir / BEST_DIR
        summary = TrainSummary(
            steps=st.step,
            epochs=st.step / self.order.batches_per_epoch,
            final_loss=last.loss if last is not None else None,
            stop_reason="early_stopping" if st.early_stopped else "max_steps",
            best_metric=st.best_metric,
            best_step=st.best_step,
            metrics=st.metrics,
            skipped_steps=st.skipped_steps,
            clipped_fraction=st.clipped_updates / st.updates if st.updates else 0.0,
            elapsed_s=elapsed,
            last_checkpoint=str(latest) if latest is not None else None,
            best_checkpoint=str(best) if best.is_dir() else None,
        )
        if self.info.is_main:
            (self.out_dir / "summary.json").write_text(
                json.dumps(dataclasses.asdict(summary), indent=2)
            )
        return summary


def _improves(value: float, best: float | None, higher_is_better: bool) -> bool:
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value > best if higher_is_better else value < best


def _requested_device(config: TrainConfig, model: torch.nn.Module) -> torch.device:
    """`config.device`, else wherever the model's parameters already are."""
    if config.device is not None:
        return torch.device(config.device)
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")
