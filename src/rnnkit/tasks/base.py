"""The Task protocol: what every application (``rnnkit train NAME``) implements.

A task is one module in ``rnnkit/tasks/`` with one :class:`Task` subclass, registered by name in
``rnnkit/tasks/__init__.py``. It owns four things: its data, its model, its objective (loss and
metrics, handed to :class:`rnnkit.train.Trainer`) and how to show predictions. The CLI and
:mod:`rnnkit.tasks.run` do the rest (configs, training, checkpoints, loading).

How to add a task (e.g. "translit", grapheme-to-phoneme with a Seq2Seq model):

1. ``Config``: a frozen dataclass of the task's knobs, each with a default and a type hint
   (int, float, bool, str, ``Literal[...]`` choices, ``X | None``). The hints drive validation
   of TOML files and the parsing of ``--set key=value``. Keep a ``data_seed`` field: the data
   must be a pure function of the config, so that ``rnnkit eval`` can rebuild the test split.
2. ``configs``: named presets, ``{"small": {...}, "full": {...}}``, each a dict of ``Config``
   fields plus an optional ``"train"`` table of :class:`rnnkit.train.TrainConfig` fields; the
   first is the default. ``train_defaults`` holds TrainConfig values that suit the task in
   general (learning rate, clipping). All of it is validated strictly.
3. ``build_data(config) -> TaskData``: the train/dev/test splits (any Sequences: train in the
   form the objective's ``collate`` reads, dev and test in the form its ``evaluate`` reads; where
   the two forms differ, also ``train_scored`` and ``dev_for_loss``, so that every split can be
   scored and the dev split put through the loss) and ``metadata``: the JSON-compatible facts
   needed to rebuild the model without the data, e.g. the vocabularies of a translit task.
4. ``build_model(config, metadata) -> nn.Module``: a fresh model, from the config and metadata
   only (it is called again at load time, before the weights are read).
5. ``objective(config, metadata)``: an object satisfying :class:`rnnkit.train.Objective`
   (``collate``, ``loss``, ``evaluate``, ``metric``, ``higher_is_better``).
6. ``predict(model, config, metadata, inputs) -> list[str]``: one printable result per input line
   (the CLI passes command-line arguments or stdin lines). Raise ValueError with a clear
   message for a malformed input line.
7. Optionally ``chance(config) -> dict[str, float]``: what a model that learned nothing scores on
   each metric, printed beside the measured metrics by ``rnnkit eval``.
8. Optionally ``report(trained, out_dir) -> list[str]``: what ``rnnkit train`` prints at the end
   and ``rnnkit eval --report DIR`` prints (test scores, example predictions, where a plot
   went, the next command to try); plots go into ``out_dir``.

Checkpoints: the Trainer writes ``model.safetensors`` and ``checkpoint.json``; we store
``{"task", "config", "metadata"}`` as its model config, so any checkpoint directory is enough
to rebuild the model (see :func:`rnnkit.tasks.run.load_trained`).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from torch import nn


@dataclasses.dataclass
class TaskData:
    """A task's splits and the JSON metadata its model needs (vocabularies, sizes, ...)."""

    train: Sequence[Any]
    dev: Sequence[Any]
    test: Sequence[Any]
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Where the splits' forms differ (translit trains on one pair per pronunciation but scores
    # words with all of theirs): the training split as the objective's ``evaluate`` reads it,
    # and the dev split as its ``collate`` and ``loss`` read it.
    train_scored: Sequence[Any] | None = None
    dev_for_loss: Sequence[Any] | None = None

    def scored(self, split: str) -> Sequence[Any]:
        """The split ("train", "dev" or "test") in the form ``evaluate`` reads."""
        if split == "train" and self.train_scored is not None:
            return self.train_scored
        return getattr(self, split)

    def for_loss(self, split: str) -> Sequence[Any]:
        """The split ("train" or "dev") in the form the objective's ``loss`` reads."""
        if split == "dev" and self.dev_for_loss is not None:
            return self.dev_for_loss
        return getattr(self, split)


class Task(ABC):
    """Base class of every application; see the module docstring for the recipe."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str]
    Config: ClassVar[type]
    configs: ClassVar[dict[str, dict[str, Any]]] = {"small": {}}
    train_defaults: ClassVar[dict[str, Any]] = {}
    # The config fields that decide the data (split, vocabularies): runs decoded together as an
    # ensemble must agree on them. None: on every field.
    data_fields: ClassVar[tuple[str, ...] | None] = None
    # The config fields that only change how a trained model decodes (beam width ...):
    # `rnnkit eval` and `predict` may set them with --set.
    decoding_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def default_preset(self) -> str:
        """The preset used when none is named: the first of ``configs``."""
        return next(iter(self.configs))

    @abstractmethod
    def build_data(self, config: Any) -> TaskData:
        """The splits, generated or read from installed packages (never downloaded)."""

    @abstractmethod
    def build_model(self, config: Any, metadata: dict[str, Any]) -> nn.Module:
        """A freshly initialised model."""

    @abstractmethod
    def objective(self, config: Any, metadata: dict[str, Any]) -> Any:
        """The :class:`rnnkit.train.Objective` of this task."""

    @abstractmethod
    def predict(
        self, model: nn.Module, config: Any, metadata: dict[str, Any], inputs: list[str]
    ) -> list[str]:
        """One printable line per input line."""

    def chance(self, config: Any) -> dict[str, float]:
        """Each metric of a model that learned nothing (empty when unknown)."""
        return {}

    def report(self, trained: Any, out_dir: Any) -> list[str]:
        """Lines that ``rnnkit train`` prints once training is done, and ``rnnkit eval --report
        DIR`` too: e.g. test scores and example predictions (``trained`` is a
        :class:`rnnkit.tasks.run.Trained`). Plots may be written into ``out_dir``. Nothing by
        default."""
        return []
