"""`TrainConfig`: every knob of a training run, validated when it is built.

A config is a frozen dataclass so that a run can be described by one JSON object (it is saved
in every checkpoint) and compared on resume. `from_dict` is the strict entry point for files
and command lines: it rejects unknown keys by name and lists the valid ones, and rejects values
of the wrong type, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, Literal

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "step", "plateau")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters and bookkeeping of one training run.

    Steps: a *step* is one global batch of `batch_size` examples. With truncated BPTT a step
    makes one optimiser update per time chunk, while the LR schedule, logging, evaluation and
    checkpoints still count steps (so they always fall on batch boundaries).

    Attributes:
        max_steps: number of steps (global batches) to train for.
        batch_size: global batch size; under data parallelism it is split evenly across ranks
            and must be divisible by the world size.
        lr: peak learning rate (reached after warm-up).
        optimizer: "adam", "adamw" or "sgd".
        momentum: SGD momentum (ignored by Adam/AdamW).
        weight_decay: L2 penalty (Adam/SGD) or decoupled decay (AdamW).
        betas: Adam/AdamW moment coefficients.
        schedule: "constant", "cosine" (to `min_lr` at `max_steps`), "step" (multiply by
            `lr_gamma` every `lr_step_size` steps) or "plateau" (multiply by `lr_gamma` after
            `plateau_patience` evaluations without improvement of the dev metric).
        warmup_steps: linear warm-up from lr/warmup_steps to lr over this many steps.
        lr_gamma: decay factor of the "step" and "plateau" schedules.
        lr_step_size: period of the "step" schedule (None: max_steps // 3).
        plateau_patience: evaluations without improvement before a "plateau" decay.
        min_lr: floor of the "cosine" and "plateau" schedules.
        clip_norm: rescale gradients so their total L2 norm is at most this (None: off).
        clip_value: clamp each gradient element to [-clip_value, clip_value] (None: off).
            Both may be set: values are clamped first, then the norm is bounded.
        tbptt: truncated BPTT chunk length in time steps (None: full BPTT).
        eval_every: evaluate on the dev set every this many steps (None: only at the end).
        checkpoint_every: checkpoint every this many steps (None: only at the end).
        keep_checkpoints: how many periodic checkpoints to keep (the best one is kept apart).
        patience: stop after this many evaluations without improvement (None: never).
        bucket: batch examples of similar length (the objective's `length`): each epoch's
            shuffled order is cut into pools of 50 batches, each pool sorted by length, and the
            batches shuffled. Little padding, so much less compute for recurrent models.
        seed: seeds data order, dropout and every other random draw of the run.
        max_nonfinite: stop with an error after this many consecutive non-finite steps.
        log_every: write a CSV row every this many steps.
        progress: show a tqdm progress bar (only on a TTY, and only on rank 0).
        device: "cpu", "cuda", "cuda:1", ... (None: where the model's parameters are, or the
            local GPU under NCCL data parallelism).
    """

    max_steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    momentum: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: Literal["constant", "cosine", "step", "plateau"] = "constant"
    warmup_steps: int = 0
    lr_gamma: float = 0.1
    lr_step_size: int | None = None
    plateau_patience: int = 1
    min_lr: float = 0.0
    clip_norm: float | None = None
    clip_value: float | None = None
    tbptt: int | None = None
    eval_every: int | None = None
    checkpoint_every: int | None = None
    keep_checkpoints: int = 3
    patience: int | None = None
    bucket: bool = False
    seed: int = 0
    max_nonfinite: int = 5
    log_every: int = 10
    progress: bool = True
    device: str | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            _check_type(field.name, value, _HINTS[field.name])
            if isinstance(value, list):  # JSON has no tuples; keep the dataclass hashable
                object.__setattr__(self, field.name, tuple(value))
        self._check_ranges()

    def _check_ranges(self) -> None:
        positive = ["max_steps", "batch_size", "max_nonfinite", "log_every", "plateau_patience"]
        positive += ["keep_checkpoints"]
        optional_positive = ["lr_step_size", "tbptt", "eval_every", "checkpoint_every", "patience"]
        for name in positive:
            self._require(name, getattr(self, name) >= 1, ">= 1")
        for name in optional_positive:
            value = getattr(self, name)
            self._require(name, value is None or value >= 1, ">= 1 or None")
        for name in ["clip_norm", "clip_value", "lr"]:
            value = getattr(self, name)
            self._require(name, value is None or (math.isfinite(value) and value > 0), "> 0")
        for name in ["momentum", "weight_decay", "min_lr", "warmup_steps", "seed"]:
            self._require(name, getattr(self, name) >= 0, ">= 0")
        # torch takes 64-bit seeds, and a rank's seed adds its rank and, on resuming, the step.
        self._require("seed", self.seed < 2**63, "< 2**63")
        self._require("lr_gamma", 0 < self.lr_gamma <= 1, "in (0, 1]")
        self._require("betas", all(0 <= b < 1 for b in self.betas), "two values in [0, 1)")
        self._require("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}")
        self._require("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}")
        if self.device is not None:
            check_device(self.device, "TrainConfig.device")

    def _require(self, name: str, ok: bool, expected: str) -> None:
        if not ok:
            got = getattr(self, name)
            raise ValueError(f"TrainConfig.{name}: expected {expected}, got {got!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from a plain dict (e.g. a TOML table), rejecting unknown keys.

        Raises:
            TypeError: `data` is not a dict, or a value has the wrong type.
            ValueError: a key is unknown (the message names it, suggests the closest valid
                key and lists all of them) or a value is out of range.
        """
        if not isinstance(data, dict):
            raise TypeError(f"TrainConfig.from_dict: expected a dict, got {type(data).__name__}")
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = [key for key in data if key not in valid]
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(str(key), valid, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ValueError(
                f"unknown TrainConfig key(s): {', '.join(hints)}; valid keys: {', '.join(valid)}"
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-compatible dict; `from_dict(to_dict())` round-trips."""
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)


# Resolved once: `from __future__ import annotations` leaves the annotations as strings.
_HINTS = typing.get_type_hints(TrainConfig)


def _check_type(name: str, value: Any, hint: Any) -> None:
    """Raise TypeError unless `value` matches the (simple) type hint of field `name`."""
    if not _matches(value, hint):
        raise TypeError(
            f"TrainConfig.{name}: expected {_describe(hint)}, got {type(value).__name__} {value!r}"
        )


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is Literal:  # only the type here; a wrong choice is a ValueError, see _check_ranges
        return isinstance(value, str)
    if origin is tuple:
        args = typing.get_args(hint)
        return (
            isinstance(value, (tuple, list))
            and len(value) == len(args)
            and all(_matches(v, a) for v, a in zip(value, args))
        )
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # bool is an int subclass, but `batch_size = true` is a mistake
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # an int is a fine float (lr = 1 in TOML)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return "str"
    if origin is tuple:
        return "a list of " + ", ".join(_describe(a) for a in typing.get_args(hint))
    return "None" if hint is type(None) else hint.__name__


def check_device(name: str, what: str = "device") -> None:
    """Raise a ValueError that says why, when torch cannot compute on device ``name`` here: a
    misspelt name, or a GPU this machine or this torch build does not have."""
    import torch  # here: reading a config needs no torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"{what}: {name!r} is not a device (cpu, cuda, cuda:1, mps)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            build = "a CPU-only build" if torch.version.cuda is None else "it finds no GPU"
            raise ValueError(f"{what}: {name!r}, but this torch cannot use CUDA ({build})")
        if device.index is not None and device.index >= count:
            raise ValueError(f"{what}: {name!r}, but this machine has {count} CUDA GPU(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{what}: {name!r}, but MPS is not available on this machine")
