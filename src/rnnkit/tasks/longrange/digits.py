"""Sequential digits: scikit-learn's 8x8 handwritten digits, read one piece per time step.

The 64 pixels are read in row-major order, ``64 / length`` pixels per step: ``length=8`` reads
row by row, ``length=64`` pixel by pixel (the small offline cousin of sequential MNIST, Le et
al. 2015). The class is read from the last step, so with ``length=64`` the first rows must be
remembered for 64 steps. The data ships with scikit-learn (1797 images), nothing is downloaded.

Chance: the ten classes are nearly balanced (9.7% to 10.2% of the images each), so guessing
gives 10% (always answering the most frequent class, 10.2%).
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..base import TaskData
from .common import (
    CellKind,
    LongRangeTask,
    SequenceModel,
    TensorPairs,
    WindowClassification,
    classification_chance,
    outputs_of_one,
)

PIXELS = 64
MAX_VALUE = 16.0  # pixel intensities are integers 0..16
NUM_CLASSES = 10
LENGTHS = (1, 2, 4, 8, 16, 32, 64)  # the divisors of 64: whole pixels per step
SOLVED_ACCURACY = 0.8


@cache
def load_digits_tensors() -> tuple[Tensor, Tensor]:
    """All 1797 images as (N, 64) floats in [0, 1] and their labels (N,)."""
    from sklearn.datasets import load_digits  # imported here: only this task needs sklearn

    digits = load_digits()
    images = torch.tensor(digits.data, dtype=torch.float32) / MAX_VALUE
    return images, torch.tensor(digits.target, dtype=torch.long)


def as_sequences(images: Tensor, length: int) -> Tensor:
    """(N, 64) images as (N, length, 64 // length) sequences in row-major reading order."""
    if length not in LENGTHS:
        raise ValueError(f"digits: length must divide 64, one of {list(LENGTHS)}, got {length}")
    return images.reshape(len(images), length, PIXELS // length)


@dataclasses.dataclass(frozen=True)
class DigitsConfig:
    """Knobs of the sequential-digits task.

    Attributes:
        length: time steps per image, one of 1, 2, 4, 8 (rows), 16, 32, 64 (pixels).
        cell, hidden_size, num_layers: the model.
        dev_fraction, test_fraction: shares of the 1797 images held out (a seeded shuffle).
        data_seed: seed of the split.
    """

    length: int = 8
    cell: CellKind = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dev_fraction: float = 0.1
    test_fraction: float = 0.2
    data_seed: int = 0

    def __post_init__(self) -> None:
        if self.length not in LENGTHS:
            raise ValueError(f"length must be one of {list(LENGTHS)}, got {self.length}")
        if not (self.dev_fraction > 0 and self.test_fraction > 0) or (
            self.dev_fraction + self.test_fraction >= 0.9
        ):
            raise ValueError(
                "dev_fraction and test_fraction must be > 0 and leave at least 10% for training, "
                f"got {self.dev_fraction} and {self.test_fraction}"
            )


class DigitsTask(LongRangeTask):
    name = "digits"
    aliases = ("sequential-digits", "seq-digits")
    description = "sequential digits: classify 8x8 digits read row by row or pixel by pixel"
    Config = DigitsConfig
    configs: ClassVar[dict[str, dict[str, Any]]] = {
        "small": {"train": {"max_steps": 1500}},
        "full": {"length": 64, "hidden_size": 128, "train": {"max_steps": 10000}},
    }

    def build_data(self, config: DigitsConfig) -> TaskData:
        images, labels = load_digits_tensors()
        order = torch.randperm(
            len(images), generator=torch.Generator().manual_seed(config.data_seed)
        )
        n_test = round(config.test_fraction * len(images))
        n_dev = round(config.dev_fraction * len(images))
        for name, count in (("test_fraction", n_test), ("dev_fraction", n_dev)):
            if count == 0:
                raise ValueError(
                    f"{name}={getattr(config, name)} leaves no image of {len(images)}: "
                    f"give at least {1 / len(images):.1e}"
                )
        parts = order[n_test + n_dev :], order[n_test : n_test + n_dev], order[:n_test]
        return TaskData(
            *(TensorPairs(as_sequences(images[p], config.length), labels[p]) for p in parts)
        )

    def build_model(self, config: DigitsConfig, metadata) -> nn.Module:
        return SequenceModel(
            config.cell, PIXELS // config.length, config.hidden_size, NUM_CLASSES, config.num_layers
        )

    def objective(self, config: DigitsConfig, metadata) -> WindowClassification:
        return WindowClassification(window=1)

    def chance(self, config: DigitsConfig) -> dict[str, float]:
        return classification_chance(NUM_CLASSES)

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["accuracy"] >= SOLVED_ACCURACY

    def predict(self, model, config: DigitsConfig, metadata, inputs: list[str]) -> list[str]:
        """Each input: ``#N``, the N-th image of the test split, or 64 pixel values 0..16
        (row-major, separated by spaces or commas). Prints the predicted digit."""
        test = (
            self.build_data(config).test if any(s.strip().startswith("#") for s in inputs) else None
        )
        results = []
        for line in inputs:
            image, label = _parse_image(line, test, config)
            logits = outputs_of_one(model, image)[-1]
            probability, digit = torch.softmax(logits, -1).max(-1)
            truth = "" if label is None else f"  true {label}"
            results.append(f"predicted {digit.item()} (p={probability.item():.2f}){truth}")
        return results


def _parse_image(line: str, test: TensorPairs | None, config: DigitsConfig):
    text = line.strip()
    if text.startswith("#"):
        try:
            index = int(text[1:])
            if index < 0:
                raise IndexError(index)
            image, label = test[index]
        except (ValueError, IndexError):
            raise ValueError(
                f"digits input: {text!r} is not #N with 0 <= N < {len(test)} (the test split)"
            ) from None
        return image, label.item()
    try:
        pixels = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"digits input: {text!r} is not #N or 64 numbers 0..16") from None
    if len(pixels) != PIXELS or not all(0 <= p <= MAX_VALUE for p in pixels):
        raise ValueError(
            f"digits input: expected #N or 64 pixel values in [0, 16], got {len(pixels)} values"
        )
    return as_sequences(torch.tensor([pixels]) / MAX_VALUE, config.length)[0], None
