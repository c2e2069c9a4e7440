"""Train a task with the Trainer, and load a trained model back for evaluation or prediction.

A checkpoint directory written for a task is self-contained: the Trainer's ``checkpoint.json``
carries ``{"task", "config", "metadata"}`` as its model config, so :func:`load_trained` can
rebuild the model (sizes, vocabularies) before reading the safetensors weights.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..patterns import Ensemble
from ..train import (
    Trainer,
    TrainSummary,
    best_checkpoint,
    latest_checkpoint,
    launch,
    load_checkpoint,
    read_checkpoint,
)
from ..train.config import check_device
from . import get_task
from .base import Task, TaskData
from .config import TRAIN_TABLE, ConfigError, RunConfig, build_dataclass, parse_assignment

RUN_FILE = "run.json"  # the resolved run config, beside the Trainer's files, for humans


def train_task(
    run: RunConfig, out_dir: str | os.PathLike, *, resume: bool = False, nproc: int = 1
) -> TrainSummary:
    """Train ``run.task`` as configured, writing checkpoints and logs to ``out_dir``.

    With ``nproc > 1`` the run is data-parallel over that many local processes, each of which
    rebuilds the data and model from the config (they are deterministic).
    """
    out_dir = Path(out_dir)
    check_run_directory(run, out_dir, resume)  # before run.json is written over
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{RUN_FILE}.tmp"  # atomic: a crash never leaves half a run.json
    tmp.write_text(json.dumps(run.to_dict(), indent=2) + "\n")
    os.replace(tmp, out_dir / RUN_FILE)
    return launch(_fit, nproc, run, str(out_dir), resume)


class RunDirectoryError(FileExistsError):
    """``out_dir`` cannot take the run asked for; the message says why and what to do."""


def check_run_directory(run: RunConfig, out_dir: Path, resume: bool) -> None:
    """Refuse an ``out_dir`` whose run a new one would destroy or mix with: one that holds
    checkpoints (unless resumed), a model but no checkpoint to resume, or a run of another task
    or of other settings (only the decoding settings, and the Trainer's, may change on resuming).
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"{out_dir} is a file, not a run directory: choose --out DIR")
    latest = latest_checkpoint(out_dir)
    if latest is None:
        if best_checkpoint(out_dir) is not None:
            raise RunDirectoryError(
                f"{out_dir} holds a trained model (best/) but no checkpoint to resume from, and a "
                "new run would replace it: choose another --out DIR"
            )
        return
    if not resume:
        raise RunDirectoryError(
            f"{out_dir} already holds a run (up to {latest.name}): add --resume to continue it, "
            "or choose another --out DIR"
        )
    saved = read_checkpoint(latest).get("config") or {}
    if saved.get("task") != run.task:
        raise RunDirectoryError(
            f"{out_dir} holds a run of task {saved.get('task')!r}, not {run.task!r}: "
            "choose another --out DIR"
        )
    task = get_task(run.task)
    # Both as the checkpoint has them; a setting newer than the run gets its default, as when
    # the run is loaded.
    saved_config = build_dataclass(task.Config, saved.get("config") or {}, str(latest))
    asked, kept = (
        json.loads(json.dumps(dataclasses.asdict(c))) for c in (run.config, saved_config)
    )
    changed = sorted(k for k, v in asked.items() if kept[k] != v and k not in task.decoding_fields)
    if changed:
        was = ", ".join(f"{k}={kept.get(k)!r}" for k in changed)
        raise RunDirectoryError(
            f"{out_dir} was trained with {was}; resuming with other values would mix two runs: "
            "resume with the same settings, or choose another --out DIR"
        )


def _fit(run: RunConfig, out_dir: str, resume: bool) -> TrainSummary:
    """One process's share of :func:`train_task` (module level: it must be picklable)."""
    task = get_task(run.task)
    data = task.build_data(run.config)
    torch.manual_seed(run.train.seed)  # the model's initial weights follow the run's seed
    model = task.build_model(run.config, data.metadata)
    trainer = Trainer(
        model,
        task.objective(run.config, data.metadata),
        data.train,
        run.train,
        out_dir,
        dev_set=data.dev,
        model_config=model_config(task, run.config, data),
    )
    return trainer.fit(resume=resume)


def model_config(task: Task, config: Any, data: TaskData) -> dict[str, Any]:
    """What a checkpoint must carry to rebuild the model: task, config and metadata."""
    return {"task": task.name, "config": dataclasses.asdict(config), "metadata": data.metadata}


@dataclasses.dataclass
class Trained:
    """A trained model of a task, ready for ``task.predict`` or evaluation."""

    task: Task
    config: Any
    metadata: dict[str, Any]
    model: nn.Module
    checkpoint: Path
    members: tuple[Path, ...] = ()  # an ensemble's checkpoints (``checkpoint`` is the first)


def find_checkpoint(model_dir: str | os.PathLike) -> Path:
    """The checkpoint in ``model_dir``: the directory itself if it is one, else the run's best
    checkpoint, else its latest."""
    model_dir = Path(model_dir)
    if model_dir.is_file():
        raise FileNotFoundError(f"{model_dir} is a file; expected a run or checkpoint directory")
    if not model_dir.is_dir():
        raise FileNotFoundError(f"model directory {model_dir} does not exist")
    if (model_dir / "checkpoint.json").is_file():
        return model_dir
    found = best_checkpoint(model_dir) or latest_checkpoint(model_dir)
    if found is None:
        raise FileNotFoundError(
            f"{model_dir} holds no checkpoint (expected checkpoint.json, best/ or checkpoints/)"
        )
    return found


def run_directory(checkpoint: Path) -> Path:
    """The run directory a checkpoint belongs to (``RUN/best``, ``RUN/checkpoints/step-N``), or
    the checkpoint itself when it stands alone: what ``--model`` takes to load it again."""
    if checkpoint.name == "best":
        return checkpoint.parent
    if checkpoint.parent.name == "checkpoints" and checkpoint.name.startswith("step-"):
        return checkpoint.parent.parent
    return checkpoint


def load_trained(task: Task, model_dir: str | os.PathLike, device: str = "cpu") -> Trained:
    """Rebuild and load the model that ``rnnkit train`` saved in ``model_dir``."""
    check_device(device)
    path = find_checkpoint(model_dir)
    saved = read_checkpoint(path).get("config") or {}
    if saved.get("task") != task.name:
        raise ValueError(f"{path} holds a model of task {saved.get('task')!r}, not {task.name!r}")
    config = build_dataclass(task.Config, saved.get("config", {}), f"{path}/checkpoint.json")
    metadata = saved.get("metadata") or {}
    model = task.build_model(config, metadata)
    load_checkpoint(path, model, device=device)
    model.to(device).eval()
    return Trained(task, config, metadata, model, path)


def load_ensemble(
    task: Task, model_dirs: Sequence[str | os.PathLike], device: str = "cpu"
) -> Trained:
    """The models of several runs of ``task`` decoded as one :class:`~rnnkit.patterns.Ensemble`
    (one run: that run's model). The runs must share their data (the task's ``data_fields`` and
    vocabularies) and may differ in anything else; the first run's config sets the decoding
    (beam width, maximum length)."""
    runs = [load_trained(task, model_dir, device) for model_dir in model_dirs]
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    for run in runs[1:]:
        differ = data_differences(task, run.config, first.config, "first")
        if differ:
            raise ValueError(
                f"{run.checkpoint} was trained on other data than {first.checkpoint}: {differ}"
            )
        if run.metadata != first.metadata:
            raise ValueError(
                f"{run.checkpoint} has other vocabularies than {first.checkpoint}: an ensemble's "
                "members must read and write the same tokens"
            )
    try:
        model = Ensemble([run.model for run in runs])
    except TypeError:
        raise ValueError(
            f"task {task.name}: its models do not generate sequences, so they cannot be decoded "
            "as an ensemble"
        ) from None
    checkpoints = tuple(run.checkpoint for run in runs)
    return Trained(task, first.config, first.metadata, model, first.checkpoint, checkpoints)


def with_decoding(trained: Trained, assignments: Sequence[str]) -> Trained:
    """``trained`` with ``key=value`` settings of its task's ``decoding_fields`` applied to its
    config (``rnnkit eval/predict --set``); any other key is refused, since the model was
    trained with it."""
    if not assignments:
        return trained
    task = trained.task
    fields = typing.get_type_hints(task.Config)
    changes: dict[str, Any] = {}
    for text in assignments:
        key = text.partition("=")[0].strip()
        if key not in task.decoding_fields:
            known = key in fields or key.startswith(f"{TRAIN_TABLE}.")
            why = "fixed by the trained model" if known else f"not a setting of task {task.name}"
            settable = ", ".join(task.decoding_fields) or "nothing"
            raise ConfigError(f"--set {key}: {why}; eval and predict can set {settable}")
        changes.update(parse_assignment(text, fields))
    config = dataclasses.asdict(trained.config) | changes
    return dataclasses.replace(trained, config=build_dataclass(task.Config, config, "--set"))


def data_differences(
    task: Task, config: Any, reference: Any, name: str, ignore: Sequence[str] = ()
) -> str:
    """How ``config``'s data differs from ``reference``'s (called ``name``): the task's
    ``data_fields`` that differ, as ``field=value (name: value)``, comma-separated; "" if
    none."""
    fields = task.data_fields or [f.name for f in dataclasses.fields(config)]
    return ", ".join(
        f"{f}={getattr(config, f)!r} ({name}: {getattr(reference, f)!r})"
        for f in fields
        if f not in ignore and getattr(config, f) != getattr(reference, f)
    )


def evaluate_trained(trained: Trained, split: str = "test") -> dict[str, float]:
    """The task's metrics of a trained model on a split ("train", "dev" or "test")."""
    dataset = trained.task.build_data(trained.config).scored(split)
    objective = trained.task.objective(trained.config, trained.metadata)
    trained.model.eval()
    with torch.no_grad():
        return objective.evaluate(trained.model, dataset)


def trained_gradient_flow(trained: Trained, batch_size: int = 64):
    """The gradient flow of a trained model on the first ``batch_size`` dev examples, under the
    task's own loss: what BPTT sends back through time once the model has learned."""
    from ..diagnostics import gradient_flow

    dev = trained.task.build_data(trained.config).for_loss("dev")
    objective = trained.task.objective(trained.config, trained.metadata)
    batch = objective.collate([dev[i] for i in range(min(batch_size, len(dev)))])
    return gradient_flow(trained.model, batch, loss_fn=objective.loss)


def load_any(model_dir: str | os.PathLike, device: str = "cpu") -> Trained:
    """Load a trained model whatever its task (read from its checkpoint)."""
    saved = read_checkpoint(find_checkpoint(model_dir)).get("config") or {}
    if "task" not in saved:
        raise ValueError(f"{model_dir}: not a model trained by `rnnkit train` (no task recorded)")
    return load_trained(get_task(saved["task"]), model_dir, device)
