"""The copy (memory) task (Hochreiter & Schmidhuber 1997; in the form of Arjovsky et al. 2016).

The input shows ``num_symbols`` symbols from an alphabet of ``alphabet`` letters, then
``delay`` blank steps, the last of which is a delimiter ("now repeat"), then ``num_symbols``
blanks during which the network must output the symbols in order. Only the recall steps are
scored. Inputs are one-hot over ``alphabet + 2`` codes (letters, blank, delimiter).

Chance: with no memory of the symbols, the best guess is uniform over the alphabet: accuracy
``1 / alphabet`` and cross-entropy ``log(alphabet)`` per recalled symbol.
"""

from __future__ import annotations

import dataclasses
import string
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..base import TaskData
from ..checks import check_positive
from .common import (
    GENERATED_COUNTS,
    CellKind,
    LongRangeTask,
    SequenceModel,
    WindowClassification,
    classification_chance,
    generated_splits,
    outputs_of_one,
)

SOLVED_ACCURACY = 0.9


def copy_task(
    n: int, num_symbols: int, delay: int, alphabet: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``n`` examples: one-hot inputs (n, T, alphabet + 2) with T = 2 * num_symbols + delay, and
    the symbols to recall (n, num_symbols), integers in [0, alphabet)."""
    if min(num_symbols, delay, alphabet) < 1:
        raise ValueError(
            f"copy_task: num_symbols, delay and alphabet must be >= 1, "
            f"got {num_symbols}, {delay}, {alphabet}"
        )
    symbols = torch.randint(0, alphabet, (n, num_symbols), generator=generator)
    return encode_copy(symbols, delay, alphabet), symbols


def encode_copy(symbols: Tensor, delay: int, alphabet: int) -> Tensor:
    """The one-hot input sequences (n, T, alphabet + 2) that show ``symbols`` (n, k), then
    ``delay`` blanks ending with the delimiter, then k blanks for the recall."""
    n, num_symbols = symbols.shape
    blank, delimiter = alphabet, alphabet + 1
    codes = torch.full((n, 2 * num_symbols + delay), blank)
    codes[:, :num_symbols] = symbols
    codes[:, num_symbols + delay - 1] = delimiter
    return F.one_hot(codes, alphabet + 2).float()


@dataclasses.dataclass(frozen=True)
class CopyConfig:
    """Knobs of the copy task.

    Attributes:
        delay: blank steps between the symbols and their recall (the memory span).
        num_symbols: symbols to memorise and repeat.
        alphabet: distinct symbols (at most 26: they print as letters).
        cell, hidden_size, num_layers: the model.
        train_size, eval_size: generated examples in the training split and in each of dev/test.
        data_seed: seed of the generated data.
    """

    delay: int = 50
    num_symbols: int = 5
    alphabet: int = 8
    cell: CellKind = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    train_size: int = 20000
    eval_size: int = 1000
    data_seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.alphabet <= len(string.ascii_lowercase):
            raise ValueError(f"alphabet must be in [2, 26], got {self.alphabet}")
        check_positive(self, "delay", "num_symbols", *GENERATED_COUNTS)


class CopyTask(LongRangeTask):
    name = "copy"
    aliases = ("copy-memory", "copying")
    description = "copy memory: repeat k symbols after a long delay (accuracy)"
    Config = CopyConfig
    configs: ClassVar[dict[str, dict[str, Any]]] = {
        "small": {"train": {"max_steps": 2000}},
        "full": {
            "delay": 100,
            "num_symbols": 10,
            "hidden_size": 128,
            "train": {"max_steps": 20000},
        },
    }
    length_key = "delay"

    def build_data(self, config: CopyConfig) -> TaskData:
        return generated_splits(config, lambda n, g: copy_task(n, *self._shape(config), g))

    def build_model(self, config: CopyConfig, metadata) -> nn.Module:
        return SequenceModel(
            config.cell, config.alphabet + 2, config.hidden_size, config.alphabet, config.num_layers
        )

    def objective(self, config: CopyConfig, metadata) -> WindowClassification:
        return WindowClassification(window=config.num_symbols)

    def chance(self, config: CopyConfig) -> dict[str, float]:
        return classification_chance(config.alphabet)

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["accuracy"] >= SOLVED_ACCURACY

    def predict(self, model, config: CopyConfig, metadata, inputs: list[str]) -> list[str]:
        """Each input: ``num_symbols`` letters from the alphabet (e.g. ``abcah``); prints what the
        model recalls after the configured delay."""
        letters = string.ascii_lowercase[: config.alphabet]
        results = []
        for line in inputs:
            word = line.strip().lower()
            if len(word) != config.num_symbols or any(ch not in letters for ch in word):
                raise ValueError(
                    f"copy input: expected {config.num_symbols} letters from {letters!r}, "
                    f"got {line.strip()!r}"
                )
            symbols = torch.tensor([[letters.index(ch) for ch in word]])
            x = encode_copy(symbols, config.delay, config.alphabet)
            recalled = outputs_of_one(model, x[0])[-config.num_symbols :].argmax(-1)
            answer = "".join(letters[i] for i in recalled.tolist())
            mark = "ok" if answer == word else "wrong"
            results.append(f"{word} -> {answer}  ({mark}, after {config.delay} steps)")
        return results

    @staticmethod
    def _shape(config: CopyConfig) -> tuple[int, int, int]:
        return config.num_symbols, config.delay, config.alphabet
