"""Checkpoint averaging: one model whose weights are the mean of several checkpoints' weights.

The checkpoints of one run taken late in training lie close together in weight space, around
a minimum that SGD keeps circling; their mean usually sits nearer its centre than any of them
and generalises a little better, at no training cost (Polyak and Juditsky 1992; the average of
the last checkpoints is standard in neural machine translation since Vaswani et al. 2017).
Unlike an ensemble, the result is one model: it decodes as fast as a single run.

Only checkpoints of the same model (same saved config) can be averaged. Floating-point
tensors are averaged in float64 and stored in their own dtype; any other tensor (an integer
counter, a mask) must be equal in every checkpoint, since there is no mean of it to take.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from .checkpoint import (
    META_FILE,
    MODEL_FILE,
    atomic_directory,
    checkpoint_meta,
    read_checkpoint,
    read_tensors,
    write_json,
    write_tensors,
)


def average_checkpoints(
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    allow_different_seeds: bool = False,
) -> Path:
    """Write to the new checkpoint directory ``out`` the mean of the ``sources``' weights.

    ``out`` carries the model config of the sources, so it loads wherever they load (e.g.
    ``rnnkit eval --model OUT``), and records which checkpoints it averages; it holds no
    optimiser state, so training cannot resume from it.

    Checkpoints of Trainer runs with different seeds are refused unless
    ``allow_different_seeds``: such runs start from different random weights and end with
    their hidden units in different orders, so the mean of their weights is not a trained model
    (decode them as an ensemble instead). Allow it for runs that share their initial weights,
    e.g. several fine-tunings of one checkpoint.

    Raises:
        ValueError: fewer than two sources, a source named twice, checkpoints of different
            models, or of runs with different seeds.
        FileExistsError: ``out`` exists (nothing is overwritten).
        CheckpointError: a source is incomplete or corrupt.
    """
    paths = [Path(source) for source in sources]
    out = Path(out)
    if len(paths) < 2:
        raise ValueError(f"averaging needs at least two checkpoints, got {len(paths)}")
    if len({p.resolve() for p in paths}) < len(paths):
        raise ValueError("a checkpoint is named twice: each must count once in the average")
    if out.exists():
        raise FileExistsError(f"{out} already exists: choose a new directory for the average")
    metas = [read_checkpoint(p) for p in paths]
    for path, meta in zip(paths[1:], metas[1:], strict=True):
        if meta.get("config") != metas[0].get("config"):
            raise ValueError(
                f"{path} holds another model than {paths[0]} (their saved configs differ): "
                "only checkpoints of one model can be averaged"
            )
    seeds = {
        path: (meta.get("train_config") or {}).get("seed")
        for path, meta in zip(paths, metas, strict=True)
    }
    if len(set(seeds.values()) - {None}) > 1 and not allow_different_seeds:
        listed = ", ".join(f"{path}: {seed}" for path, seed in seeds.items())
        raise ValueError(
            f"the checkpoints come from runs with different seeds ({listed}); runs started "
            "from different random weights cannot be averaged (their units are ordered "
            "differently): decode them as an ensemble, or allow different seeds if the runs "
            "share their initial weights"
        )
    tensors = _mean_tensors(paths)
    # The step and train config are the newest source's, as for the run's last checkpoint; its
    # dev metrics are left out, since they are not the average's.
    newest = max(metas, key=lambda meta: meta.get("step", -1))
    metadata = {key: newest[key] for key in ("step", "train_config") if key in newest}
    metadata["averaged"] = [
        {"path": str(p), "step": m.get("step")} for p, m in zip(paths, metas, strict=True)
    ]
    with atomic_directory(out) as tmp:
        write_tensors(tmp / MODEL_FILE, tensors)
        write_json(tmp / META_FILE, checkpoint_meta(metas[0].get("config"), metadata))
    return out


def _mean_tensors(paths: Sequence[Path]) -> dict[str, torch.Tensor]:
    """The element-wise mean of the weight files of ``paths`` (checked to match)."""
    first = read_tensors(paths[0] / MODEL_FILE)
    sums = {name: t.double() if t.is_floating_point() else t for name, t in first.items()}
    for path in paths[1:]:
        tensors = read_tensors(path / MODEL_FILE)
        if tensors.keys() != first.keys():
            differ = sorted(tensors.keys() ^ first.keys())
            raise ValueError(f"{path} and {paths[0]} hold different tensors: {differ[:5]}")
        for name, tensor in tensors.items():
            expected = first[name]
            if tensor.shape != expected.shape or tensor.dtype != expected.dtype:
                raise ValueError(
                    f"{path}: tensor {name} is {tensor.dtype} {tuple(tensor.shape)}, "
                    f"{paths[0]} has {expected.dtype} {tuple(expected.shape)}"
                )
            if tensor.is_floating_point():
                sums[name] += tensor.double()
            elif not torch.equal(tensor, expected):
                raise ValueError(
                    f"{path}: tensor {name} ({tensor.dtype}) differs from {paths[0]}'s, "
                    "and only floating-point tensors can be averaged"
                )
    return {
        name: (total / len(paths)).to(first[name].dtype)
        if first[name].is_floating_point()
        else total
        for name, total in sums.items()
    }
