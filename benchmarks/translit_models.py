"""The transliteration task's models as the benchmarks build them."""

from __future__ import annotations

from rnnkit.tasks.translit.task import TranslitConfig, TranslitTask

# What ``--quick`` runs instead of a preset's model: a smoke test of the benchmark's code.
TINY = {"embed_dim": 8, "hidden_size": 8, "num_layers": 1, "train_words": 500}


def preset_config(preset: str, overrides: dict) -> TranslitConfig:
    """The model configuration of ``rnnkit train translit --preset PRESET``, with ``overrides``."""
    sizes = {k: v for k, v in TranslitTask.configs[preset].items() if k != "train"}
    return TranslitConfig(**{**sizes, **overrides})
