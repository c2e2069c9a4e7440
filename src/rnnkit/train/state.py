"""Training state that must survive a restart: optimiser moments and random generators.

Both are split into tensors (saved with safetensors) and small JSON-compatible values, so a
checkpoint never needs pickle. `rng_snapshot`/`restore_rng` also serve in memory, to keep an
evaluation from changing the random stream of training.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.train.checkpoint import read_json, read_tensors, write_json, write_tensors

Tensors = dict[str, torch.Tensor]


def optimizer_to_files(optimizer: torch.optim.Optimizer) -> tuple[Tensors, dict[str, Any]]:
    """Split `optimizer.state_dict()` into a flat tensor dict and a JSON-compatible dict."""
    state_dict = optimizer.state_dict()
    tensors: Tensors = {}
    plain: dict[str, dict[str, Any]] = {}
    for param_id, entries in state_dict["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{key}"] = value
            else:
                plain.setdefault(str(param_id), {})[key] = _to_json(value)
    groups = [_to_json(group) for group in state_dict["param_groups"]]
    return tensors, {"state": plain, "param_groups": groups}


def optimizer_from_files(
    optimizer: torch.optim.Optimizer, tensors: Tensors, plain: dict[str, Any]
) -> None:
    """Inverse of `optimizer_to_files`: load the state into `optimizer` in place."""
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = tensor
    for param_id, entries in plain["state"].items():
        state.setdefault(int(param_id), {}).update(
            {key: _from_json(value) for key, value in entries.items()}
        )
    groups = [_from_json(group) for group in plain["param_groups"]]
    for saved, running in zip(groups, optimizer.param_groups, strict=False):
        # How the update is computed is the running code's choice, not the checkpoint's.
        saved.update({key: running[key] for key in _IMPLEMENTATION_KEYS if key in running})
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# Optimiser options that choose a kernel, not the mathematics of the update.
_IMPLEMENTATION_KEYS = ("foreach", "fused", "capturable", "differentiable")


def rng_snapshot() -> dict[str, Any]:
    """The state of every random generator a training step may draw from."""
    snapshot = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        snapshot["cuda"] = torch.cuda.get_rng_state_all()
    return snapshot


def restore_rng(snapshot: dict[str, Any]) -> None:
    """Put every generator back to a `rng_snapshot`."""
    torch.set_rng_state(snapshot["torch"])
    np.random.set_state(snapshot["numpy"])
    random.setstate(snapshot["python"])
    if "cuda" in snapshot and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(snapshot["cuda"])


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (an evaluation) without consuming the training random streams."""
    snapshot = rng_snapshot()
    try:
        yield
    finally:
        restore_rng(snapshot)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy and Python's `random`."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def rng_to_files(snapshot: dict[str, Any], prefix: str) -> tuple[Tensors, dict[str, Any]]:
    """Split a snapshot into tensors (names start with `prefix`) and JSON values."""
    kind, keys, pos, has_gauss, cached = snapshot["numpy"]
    tensors = {
        f"{prefix}torch": snapshot["torch"],
        # uint32 -> int64: every uint32 fits, and int64 is safetensors' most portable int
        f"{prefix}numpy": torch.from_numpy(keys.astype(np.int64)),
    }
    for index, state in enumerate(snapshot.get("cuda", [])):
        tensors[f"{prefix}cuda.{index}"] = state
    version, internal, gauss = snapshot["python"]
    plain = {
        "numpy": [kind, int(pos), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss],
        "cuda_devices": len(snapshot.get("cuda", [])),
    }
    return tensors, plain


def rng_from_files(tensors: Tensors, plain: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Inverse of `rng_to_files`."""
    kind, pos, has_gauss, cached = plain["numpy"]
    keys = tensors[f"{prefix}numpy"].numpy().astype(np.uint32)
    version, internal, gauss = plain["python"]
    snapshot = {
        "torch": tensors[f"{prefix}torch"],
        "numpy": (kind, keys, pos, has_gauss, cached),
        "python": (version, tuple(internal), gauss),
    }
    if plain["cuda_devices"]:
        snapshot["cuda"] = [tensors[f"{prefix}cuda.{i}"] for i in range(plain["cuda_devices"])]
    return snapshot


def _to_json(value: Any) -> Any:
    """JSON-compatible form of optimiser hyper-parameters; tuples are tagged to come back."""
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {key: _to_json(v) for key, v in value.items()}
    if isinstance(value, torch.Tensor):  # e.g. a tensor lr; rare, but must not be lost
        return {"__scalar__": value.item()}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        if set(value) == {"__scalar__"}:
            return torch.tensor(value["__scalar__"])
        return {key: _from_json(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


OPTIMIZER_FILE = "optimizer.safetensors"
RNG_FILE = "rng.safetensors"
TRAINER_STATE_FILE = "trainer_state.json"


def write_training_state(
    directory: Path,
    optimizer: torch.optim.Optimizer,
    rngs: list[dict[str, Any]],
    extra: dict[str, Any],
) -> None:
    """Write optimiser, per-rank RNG snapshots and the JSON `extra` into a checkpoint dir."""
    optimizer_tensors, optimizer_plain = optimizer_to_files(optimizer)
    rng_tensors: Tensors = {}
    rng_plain = []
    for rank, snapshot in enumerate(rngs):
        tensors, plain = rng_to_files(snapshot, prefix=f"rank{rank}.")
        rng_tensors.update(tensors)
        rng_plain.append(plain)
    write_tensors(directory / OPTIMIZER_FILE, optimizer_tensors)
    write_tensors(directory / RNG_FILE, rng_tensors)
    state = {**extra, "optimizer": optimizer_plain, "rng": rng_plain}
    write_json(directory / TRAINER_STATE_FILE, state)


def read_training_state(
    directory: Path, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Load the optimiser state in place; return the JSON extra and the per-rank RNG snapshots."""
    state = read_json(directory / TRAINER_STATE_FILE)
    optimizer_from_files(optimizer, read_tensors(directory / OPTIMIZER_FILE), state["optimizer"])
    rng_tensors = read_tensors(directory / RNG_FILE)
    rngs = [
        rng_from_files(rng_tensors, plain, prefix=f"rank{rank}.")
        for rank, plain in enumerate(state["rng"])
    ]
    extra = {key: value for key, value in state.items() if key not in ("optimizer", "rng")}
    return extra, rngs
