"""Knowledge distillation: a model that also learns the next-phoneme distributions of teachers.

Token-level ensemble distillation (Hinton et al. 2015; Kim & Rush 2016, "word-level KD"; for G2P,
Sun et al. 2019): besides the gold phoneme, each position of a training pronunciation gets a
soft target, the mean of the teachers' distributions for that position under teacher forcing.
An ensemble of runs is better than any of its members; a student trained on its distributions
inherits part of that in one model, at one model's decoding cost.

The teachers see each training pair with the same gold prefix every epoch and run in eval mode,
so a pair's soft targets never change: they are worked out the first time the pair is met, kept
(float16, on the CPU), and looked up in every later epoch. The first epoch pays for the teachers'
forward passes; the rest cost nothing more than the student's own step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ...patterns import Ensemble
from ..base import Task
from ..run import data_differences, load_ensemble

PairKey = tuple[tuple[int, ...], tuple[int, ...]]  # (letter ids, phoneme ids) of a training pair


def teacher_dirs(teachers: str) -> list[str]:
    """The run directories of a ``teachers`` setting: comma-separated, blanks ignored."""
    return [part.strip() for part in teachers.split(",") if part.strip()]


class SoftTargets:
    """The teachers' mean next-phoneme distribution at every position of a training pair.

    Args:
        task: the student's task.
        teachers: the ``teachers`` config value (comma-separated run directories of the task).
        config, metadata: the student's; the teachers must have been trained on the same split
            (the task's ``data_fields``: a teacher that saw the student's test words would leak
            them) and write the same phonemes.

    The teachers are loaded at first use, onto the device of the first batch, not here: a
    trained student's objective is built for evaluation too, which needs no teachers (they may
    be gone by then).
    """

    def __init__(self, task: Task, teachers: str, config: Any, metadata: dict[str, Any]) -> None:
        self.dirs = teacher_dirs(teachers)
        if not self.dirs:
            raise ValueError("teachers: no run directory given")
        self.task, self.config, self.metadata = task, config, metadata
        self._teachers: list[nn.Module] | None = None
        self._known: dict[PairKey, Tensor] = {}

    def __len__(self) -> int:
        """How many pairs' soft targets are kept."""
        return len(self._known)

    def teachers(self, device: torch.device | str = "cpu") -> list[nn.Module]:
        """The teacher models, loaded onto ``device`` and checked at the first call."""
        if self._teachers is None:
            self._teachers = self._load(device)
        return self._teachers

    def _load(self, device: torch.device | str) -> list[nn.Module]:
        task = self.task
        try:
            trained = load_ensemble(task, self.dirs, device=str(device))
        except FileNotFoundError as error:
            raise FileNotFoundError(f"teachers of this run: {error}") from None
        # dev_eval_words only says how many dev words are scored: not a split
        differ = data_differences(task, trained.config, self.config, "student", ["dev_eval_words"])
        if differ:
            raise ValueError(
                f"teachers {', '.join(self.dirs)} were trained on another split than this run: "
                f"{differ}"
            )
        if trained.metadata != self.metadata:
            raise ValueError(
                f"teachers {', '.join(self.dirs)} have other vocabularies than this run; a "
                "teacher must write the student's phonemes"
            )
        model = trained.model
        members = list(model.members) if isinstance(model, Ensemble) else [model]
        for member in members:
            member.eval().requires_grad_(False)
        return members

    def __call__(
        self, keys: Sequence[PairKey], src: Tensor, src_lengths: Tensor, tgt_in: Tensor
    ) -> Tensor:
        """The soft targets of a batch, (B, T, V) float32 on ``src``'s device, zero past each
        pair's end. ``keys[b]`` names row b of the teacher-forced batch (src, tgt_in)."""
        missing = [row for row, key in enumerate(keys) if key not in self._known]
        if missing:
            self._work_out(keys, missing, src, src_lengths, tgt_in)
        soft = torch.zeros(
            len(keys), tgt_in.shape[1], self._known[keys[0]].shape[1], dtype=torch.float32
        )
        for row, key in enumerate(keys):
            targets = self._known[key]
            soft[row, : len(targets)] = targets
        return soft.to(src.device)

    @torch.no_grad()
    def _work_out(
        self,
        keys: Sequence[PairKey],
        rows: list[int],
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
    ) -> None:
        teachers = self.teachers(src.device)
        index = torch.tensor(rows, device=src.device)
        inputs = (src[index], src_lengths[index], tgt_in[index])
        mean = sum(teacher(*inputs).softmax(dim=-1) for teacher in teachers) / len(teachers)
        for position, row in enumerate(rows):
            length = len(keys[row][1]) + 1  # the phonemes and the end of the word
            self._known[keys[row]] = mean[position, :length].to("cpu", torch.float16)
