"""The tiny lexicon and tiny runs that the transliteration tests train on."""

from __future__ import annotations

from rnnkit.tasks import get_task
from rnnkit.tasks.config import resolve_run_config

# A small hand-made lexicon in the TSV format: regular spellings a tiny model can learn.
LEXICON = {
    "cat": "K AE T", "bat": "B AE T", "hat": "HH AE T", "mat": "M AE T", "sat": "S AE T",
    "cap": "K AE P", "map": "M AE P", "tap": "T AE P", "sap": "S AE P", "bap": "B AE P",
    "pit": "P IH T", "sit": "S IH T", "hit": "HH IH T", "bit": "B IH T", "kit": "K IH T",
    "tip": "T IH P", "sip": "S IH P", "hip": "HH IH P", "map's": "M AE P S", "cat's": "K AE T S",
}  # fmt: skip


def tiny_run(lexicon_file, data_seed=0, config=(), **train):
    """A tiny model of the tiny lexicon; ``config``: more ``key=value`` settings of the task."""
    task = get_task("g2p")
    settings = {
        "data_seed": data_seed,
        "lexicon": str(lexicon_file),
        "lexicon_format": "tsv",
        "test_words": 2,
        "dev_words": 2,
        "embed_dim": 16,
        "hidden_size": 32,
        "beam_size": 2,
    }
    assignments = [f"{k}={v}" for k, v in settings.items()]
    assignments += [*config, *(f"train.{k}={v}" for k, v in train.items())]
    return task, resolve_run_config(task, assignments=assignments)
