"""What the long-range tasks share: tensor datasets, the model and the objectives.

Each long-range task is a sequence of inputs ``x`` (B, T, I) and a target read from the
recurrent layer's outputs through a linear head: at the last step (adding, digits) or over a
window of steps (copy). The model is deliberately plain (``rk.Recurrent`` + ``nn.Linear``), so
that the only difference between runs is the cell.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ... import Recurrent
from ...train import unwrap
from ..base import Task, TaskData

CellKind = Literal["rnn", "lstm", "gru", "leaky"]
EVAL_CHUNK = 512  # examples per forward pass in evaluation


class TensorPairs(Sequence):
    """A dataset of ``(x[i], y[i])`` pairs held as two tensors (cheap to slice and to stack)."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        if len(x) != len(y):
            raise ValueError(f"TensorPairs: {len(x)} inputs but {len(y)} targets")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def chunks(self, size: int = EVAL_CHUNK):
        """The whole set as ``(x, y)`` batches of at most ``size`` examples, in order."""
        for start in range(0, len(self), size):
            yield self.x[start : start + size], self.y[start : start + size]


# The config fields of a generated task (adding, copy) that count something: each must be >= 1.
GENERATED_COUNTS = ("hidden_size", "num_layers", "train_size", "eval_size")


def generated_splits(
    config, generate: Callable[[int, torch.Generator], tuple[Tensor, Tensor]]
) -> TaskData:
    """The splits of a generated task: ``generate(n, generator) -> (x, y)`` called for
    ``config.train_size`` examples, then ``config.eval_size`` for each of dev and test, all from
    one generator seeded with ``config.data_seed`` (the same config always gives the same data)."""
    generator = torch.Generator().manual_seed(config.data_seed)
    sizes = config.train_size, config.eval_size, config.eval_size
    return TaskData(*(TensorPairs(*generate(n, generator)) for n in sizes))


class SequenceModel(nn.Module):
    """``rk.Recurrent(cell, ...)`` followed by a linear head applied at every step.

    ``forward(x)`` returns ``(B, T, output_size)``; the objectives pick the steps they score.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int = 1,
    ) -> None:
        super().__init__()
        self.rnn = Recurrent(cell, input_size, hidden_size, num_layers=num_layers)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(out)


class LongRangeTask(Task):
    """A task whose difficulty is a sequence length that ``rnnkit longrange`` sweeps.

    Subclasses name the config field that sets the length (``length_key``) and say when a run
    has learned the task (``solved``), beyond the chance level of :meth:`Task.chance`.
    """

    length_key: str = "length"
    # The Trainer settings copy and digits train with; adding overrides the learning rate.
    train_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 64,
        "lr": 3e-3,
        "clip_norm": 1.0,
        "eval_every": 250,
    }

    def solved(self, metrics: dict[str, float]) -> bool:
        """Whether ``metrics`` (from ``objective.evaluate``) show the task learned."""
        raise NotImplementedError


def collate_pairs(examples: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """Stack ``(x, y)`` examples of equal length into one batch."""
    xs, ys = zip(*examples, strict=True)
    return torch.stack(xs), torch.stack(ys)


@dataclasses.dataclass
class LastStepRegression:
    """Mean squared error of the last step's single output (the adding problem)."""

    metric: str = "mse"
    higher_is_better: bool = False

    collate = staticmethod(collate_pairs)

    def predictions(self, model: nn.Module, x: Tensor) -> Tensor:
        return model(x)[:, -1, 0]

    def loss(self, model: nn.Module, batch) -> Tensor:
        x, y = batch
        return F.mse_loss(self.predictions(model, x), y)

    def evaluate(self, model: nn.Module, dev_set: TensorPairs) -> dict[str, float]:
        total, count = 0.0, 0
        for x, y in dev_set.chunks():
            x, y = _to_model_device(model, x, y)
            total += F.mse_loss(self.predictions(model, x), y, reduction="sum").item()
            count += len(y)
        return {"mse": total / count}


@dataclasses.dataclass
class WindowClassification:
    """Cross-entropy and accuracy of the outputs over the last ``window`` steps.

    ``window=1`` classifies the whole sequence from its last step (digits); a longer window
    scores one symbol per step (the recall phase of the copy task), ``y`` of shape (B, window).
    """

    window: int = 1
    metric: str = "accuracy"
    higher_is_better: bool = True

    collate = staticmethod(collate_pairs)

    def logits(self, model: nn.Module, x: Tensor) -> Tensor:
        """Logits of the scored steps, ``(B, window, C)``."""
        return model(x)[:, -self.window :]

    def loss(self, model: nn.Module, batch) -> Tensor:
        x, y = batch
        logits = self.logits(model, x)
        return F.cross_entropy(logits.flatten(0, 1), y.reshape(-1))

    def evaluate(self, model: nn.Module, dev_set: TensorPairs) -> dict[str, float]:
        loss, correct, count = 0.0, 0, 0
        for x, y in dev_set.chunks():
            x, y = _to_model_device(model, x, y)
            logits = self.logits(model, x).flatten(0, 1)
            y = y.reshape(-1)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(-1) == y).sum().item()
            count += len(y)
        return {"accuracy": correct / count, "loss": loss / count}


def classification_chance(num_classes: int) -> dict[str, float]:
    """Accuracy and cross-entropy of a model that predicts the uniform distribution."""
    return {"accuracy": 1.0 / num_classes, "loss": math.log(num_classes)}


def outputs_of_one(model: nn.Module, x: Tensor) -> Tensor:
    """The model's outputs ``(T, O)`` for one input sequence ``x`` (T, I), without gradients:
    what ``predict`` reads its answer from."""
    with torch.no_grad():
        (x,) = _to_model_device(model, x)
        return model(x.unsqueeze(0))[0]


def _to_model_device(model: nn.Module, *tensors: Tensor) -> list[Tensor]:
    device = next(unwrap(model).parameters()).device
    return [t.to(device) for t in tensors]
