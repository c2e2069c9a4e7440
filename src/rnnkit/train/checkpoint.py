"""Checkpoints on disk: safetensors weights + JSON metadata, written so a crash cannot corrupt.

A checkpoint is a directory:

    model.safetensors     the weights (safetensors: no pickle, so loading runs no code)
    checkpoint.json       format tag, step, model config, train config, dev metrics
    (Trainer checkpoints add optimizer.safetensors, rng.safetensors and trainer_state.json)

Atomicity: every file is written to a temporary name, flushed to disk and `os.replace`d, and
the whole directory is assembled under a temporary name and renamed into place at the end.
A crash at any moment therefore leaves either the old checkpoint or the new one, never a
half-written one; leftover temporary directories are ignored and cleaned up by the next save.
(Replacing a directory takes two renames: a crash between them leaves the old checkpoint whole
under a temporary name, where `best_checkpoint` still finds it and the next save puts it back.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model

MODEL_FILE = "model.safetensors"
META_FILE = "checkpoint.json"
FORMAT = "rnnkit-checkpoint"
FORMAT_VERSION = 1

CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
_STEP_DIR = re.compile(r"^step-(\d+)$")
_TMP_PREFIX = ".tmp-"


class CheckpointError(ValueError):
    """A checkpoint directory or file is missing pieces, corrupt, or does not fit the model."""


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    config: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Save `model`'s weights and a JSON description atomically to the directory `path`.

    Args:
        path: the checkpoint directory; replaced as a whole if it exists.
        model: the module whose `state_dict` is saved (tied weights are stored once).
        config: JSON-compatible description needed to rebuild the model (e.g. sizes), so an
            inference user can call `read_checkpoint(path)["config"]` before building it.
        metadata: any other JSON-compatible facts (step, metrics, ...), stored beside it.

    Returns:
        The checkpoint directory as a `Path`.
    """
    path = Path(path)
    with atomic_directory(path) as tmp:
        write_model_files(tmp, model, config=config, metadata=metadata)
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    strict: bool = True,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load the weights of checkpoint directory `path` into `model` in place.

    Args:
        path: a checkpoint directory (e.g. `runs/x/best` or `latest_checkpoint("runs/x")`).
        model: a module built like the saved one.
        strict: require exactly the saved parameter names (as `load_state_dict`).
        device: where the tensors are loaded before being copied into `model`.

    Returns:
        The checkpoint's metadata (see `read_checkpoint`).

    Raises:
        FileNotFoundError: `path` does not exist.
        CheckpointError: a file is missing or corrupt, or the weights do not fit `model`.
    """
    meta = read_checkpoint(path)
    weights = Path(path) / MODEL_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing; the checkpoint is incomplete")
    try:
        load_model(model, weights, strict=strict, device=str(device))
    except SafetensorError as err:
        raise CheckpointError(f"{weights}: corrupt safetensors file ({err})") from err
    except RuntimeError as err:  # missing/unexpected keys or shape mismatches
        raise CheckpointError(f"{weights}: does not fit {type(model).__name__}: {err}") from err
    return meta


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of checkpoint directory `path`, without loading weights.

    Returns a dict with at least "format", "version", "config" (the model config given at
    save time, or None) and whatever metadata was saved (the Trainer adds "step",
    "train_config" and "metrics").
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint directory {path} does not exist")
    meta = read_json(path / META_FILE)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path / META_FILE}: not an rnnkit checkpoint (format != {FORMAT})")
    version = meta.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{path / META_FILE}: version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path / META_FILE}: format version {meta['version']} is newer than this rnnkit "
            f"reads ({FORMAT_VERSION}); upgrade rnnkit"
        )
    return meta


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The periodic checkpoint with the highest step in a Trainer's `out_dir`, or None."""
    steps = periodic_checkpoints(out_dir)
    return steps[-1] if steps else None


def periodic_checkpoints(out_dir: str | os.PathLike) -> list[Path]:
    """The periodic checkpoints kept in a Trainer's `out_dir`, oldest first."""
    return [path for _, path in _step_dirs(Path(out_dir) / CHECKPOINTS_DIR)]


def best_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The checkpoint with the best dev metric in a Trainer's `out_dir`, or None."""
    path = Path(out_dir) / BEST_DIR
    return path if path.is_dir() else _moved_aside(path)


def step_checkpoint_path(out_dir: str | os.PathLike, step: int) -> Path:
    """Where the Trainer puts the periodic checkpoint of `step`."""
    return Path(out_dir) / CHECKPOINTS_DIR / f"step-{step:08d}"


def prune_checkpoints(out_dir: str | os.PathLike, keep: int) -> None:
    """Delete all but the `keep` newest periodic checkpoints, and leftover temporaries."""
    root = Path(out_dir) / CHECKPOINTS_DIR
    for _, path in _step_dirs(root)[:-keep]:
        shutil.rmtree(path)
    _remove_temporaries(root)


def write_model_files(
    directory: Path,
    model: torch.nn.Module,
    *,
    config: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
) -> None:
    """Write model.safetensors and checkpoint.json into an existing directory."""
    with _atomic_file(directory / MODEL_FILE) as tmp:
        save_model(model, str(tmp))
    write_json(directory / META_FILE, checkpoint_meta(config, metadata))


def checkpoint_meta(config: dict[str, Any] | None, metadata: dict[str, Any] | None) -> dict:
    """The content of checkpoint.json: format tag, model config and the other metadata."""
    return {"format": FORMAT, "version": FORMAT_VERSION, "config": config, **(metadata or {})}


def write_json(path: Path, obj: Any) -> None:
    """Write `obj` as JSON to `path` atomically."""
    with _atomic_file(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))


def read_json(path: Path) -> Any:
    """Read a JSON file, turning absence and corruption into errors that name the file."""
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; the checkpoint is incomplete")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: corrupt JSON ({err})") from err


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write a flat dict of tensors as a safetensors file, atomically."""
    contiguous = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    with _atomic_file(path) as tmp:
        save_file(contiguous, str(tmp))


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file onto the CPU, naming the file on failure."""
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; the checkpoint is incomplete")
    try:
        return load_file(str(path))
    except SafetensorError as err:
        raise CheckpointError(f"{path}: corrupt safetensors file ({err})") from err


@contextlib.contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside `path`; on success it becomes `path`.

    If the block raises, the temporary directory is removed and `path` is untouched.
    An existing `path` is moved aside first and deleted only once the new one is in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # An earlier save killed between its two renames left the old checkpoint aside: put it back
    # before the leftovers of that save are removed, so that a failure of this one keeps it.
    interrupted = None if path.exists() else _moved_aside(path)
    if interrupted is not None:
        os.replace(interrupted, path)
    # Leftovers of an earlier save of this same path that was killed half-way.
    for stale in path.parent.glob(f"{_TMP_PREFIX}*{path.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = path.parent / f"{_TMP_PREFIX}{path.name}-{os.getpid()}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_dir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = path.parent / f"{_TMP_PREFIX}old-{path.name}-{os.getpid()}"
    if path.exists():  # rename() cannot replace a non-empty directory: move it aside first
        os.replace(path, old)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    shutil.rmtree(old, ignore_errors=True)


def _moved_aside(path: Path) -> Path | None:
    """The whole former checkpoint at ``path`` that :func:`atomic_directory` moved aside, when a
    save was killed before the new one took its place (``path`` is then missing), or None."""
    found = sorted(path.parent.glob(f"{_TMP_PREFIX}old-{path.name}-*"))
    complete = [p for p in found if (p / META_FILE).is_file()]
    return complete[-1] if complete else None


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary file name; on success its content is flushed and renamed to `path`."""
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:  # flush to disk before the rename makes it visible
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _step_dirs(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    found = [(_STEP_DIR.match(p.name), p) for p in root.iterdir() if p.is_dir()]
    return sorted((int(m.group(1)), p) for m, p in found if m)


def _remove_temporaries(root: Path) -> None:
    for path in root.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
