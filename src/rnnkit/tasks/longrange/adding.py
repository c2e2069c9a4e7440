"""The adding problem (Hochreiter & Schmidhuber 1997, experiment 4).

Each step carries two numbers: a value drawn uniformly from [0, 1] and a marker. Exactly two
steps are marked, one in each half of the sequence; the target is the sum of the two marked
values, read at the last step. To solve it a network must remember the first marked value for
up to T steps while ignoring everything else.

Chance: the target is the sum of two independent U(0, 1), with mean 1 and variance
2 * 1/12 = 1/6. A model that learned nothing predicts the mean, 1.0, with MSE 1/6 = 0.1667.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..base import TaskData
from ..checks import check_positive
from .common import (
    GENERATED_COUNTS,
    CellKind,
    LastStepRegression,
    LongRangeTask,
    SequenceModel,
    generated_splits,
    outputs_of_one,
)

CHANCE_MSE = 1.0 / 6.0  # Var(U1 + U2) = 2/12: the MSE of always predicting the mean, 1.0
SOLVED_MSE = 0.01  # a common bar for "solved" (Le et al. 2015 report reaching ~0.001-0.01)


def adding_problem(n: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` sequences of ``length`` steps: inputs (n, length, 2) [value, marker], targets (n,).

    One marker is uniform in the first half ``[0, length // 2)``, the other in the second half.
    """
    if length < 2:
        raise ValueError(f"adding_problem: length must be >= 2, got {length}")
    values = torch.rand(n, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), (values * markers).sum(1)


@dataclasses.dataclass(frozen=True)
class AddingConfig:
    """Knobs of the adding problem.

    Attributes:
        length: sequence length T (the distance the first value must be remembered is up to T).
        cell: recurrent cell kind.
        hidden_size: units of the recurrent layer.
        num_layers: stacked recurrent layers.
        train_size, eval_size: generated examples in the training split and in each of dev/test.
        data_seed: seed of the generated data (the same config always gives the same data).
    """

    length: int = 100
    cell: CellKind = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    train_size: int = 20000
    eval_size: int = 1000
    data_seed: int = 0

    def __post_init__(self) -> None:
        check_positive(self, "length", minimum=2)  # one marker in each half
        check_positive(self, *GENERATED_COUNTS)


class AddingTask(LongRangeTask):
    name = "adding"
    aliases = ("adding-problem",)
    description = "adding problem: sum the two marked numbers of a long sequence (MSE)"
    Config = AddingConfig
    configs: ClassVar[dict[str, dict[str, Any]]] = {
        "small": {"train": {"max_steps": 1000}},
        "full": {"length": 200, "hidden_size": 128, "train": {"max_steps": 10000}},
    }
    # lr 1e-2 with clipping: LSTM and GRU solve T=200 within 1000 steps (measured, see docs)
    train_defaults: ClassVar[dict[str, Any]] = {**LongRangeTask.train_defaults, "lr": 1e-2}

    def build_data(self, config: AddingConfig) -> TaskData:
        return generated_splits(config, lambda n, g: adding_problem(n, config.length, g))

    def build_model(self, config: AddingConfig, metadata) -> nn.Module:
        return SequenceModel(config.cell, 2, config.hidden_size, 1, config.num_layers)

    def objective(self, config: AddingConfig, metadata) -> LastStepRegression:
        return LastStepRegression()

    def chance(self, config: AddingConfig) -> dict[str, float]:
        return {"mse": CHANCE_MSE}

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["mse"] < SOLVED_MSE

    def predict(self, model, config: AddingConfig, metadata, inputs: list[str]) -> list[str]:
        """Each input: whitespace-separated values in [0, 1], the two marked ones starred,
        e.g. ``0.3 0.9* 0.1 0.5*``. Prints the predicted and the true sum."""
        results = []
        for line in inputs:
            x, target = parse_marked(line)
            predicted = outputs_of_one(model, x)[-1, 0].item()
            results.append(f"predicted {predicted:.4f}  true {target:.4f}  ({line.strip()})")
        return results


def parse_marked(line: str) -> tuple[Tensor, float]:
    """``"0.3 0.9* 0.1 0.5*"`` as inputs (T, 2) and the true sum of the starred values."""
    tokens = line.split()
    values, markers = [], []
    for token in tokens:
        marked = token.endswith("*")
        try:
            values.append(float(token.rstrip("*")))
        except ValueError:
            raise ValueError(f"adding input: {token!r} is not a number (line {line!r})") from None
        markers.append(1.0 if marked else 0.0)
    if sum(markers) != 2:
        raise ValueError(
            f"adding input: mark exactly two values with '*', e.g. '0.3 0.9* 0.1 0.5*'; "
            f"got {int(sum(markers))} marked in {line!r}"
        )
    x = torch.tensor([values, markers]).T
    return x, float((x[:, 0] * x[:, 1]).sum())
