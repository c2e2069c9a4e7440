"""The transliteration task's models as the benchmarks build them."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rnnkit.tasks.base import TaskData
from rnnkit.tasks.config import resolve_run_config
from rnnkit.tasks.translit.objective import TranslitObjective
from rnnkit.tasks.translit.task import TranslitConfig, TranslitTask

PRESETS = tuple(TranslitTask.configs)  # small, full

# What ``--quick`` runs instead of a preset's model: a smoke test of the benchmark's code.
TINY = {"embed_dim": 8, "hidden_size": 8, "num_layers": 1, "train_words": 500}


def preset_config(preset: str, overrides: dict) -> TranslitConfig:
    """The model configuration of ``rnnkit train translit --preset PRESET --set KEY=VALUE ...``."""
    assignments = [f"{key}={value}" for key, value in overrides.items()]
    return resolve_run_config(TranslitTask(), preset=preset, assignments=assignments).config


@dataclass
class PresetModel:
    """A preset's model with seeded random weights, its objective and the task's data."""

    model: nn.Module
    objective: TranslitObjective
    data: TaskData


def preset_model(preset: str, overrides: dict) -> PresetModel:
    task = TranslitTask()
    config = preset_config(preset, overrides)
    data = task.build_data(config)
    torch.manual_seed(0)
    model = task.build_model(config, data.metadata)
    return PresetModel(model, task.objective(config, data.metadata), data)
