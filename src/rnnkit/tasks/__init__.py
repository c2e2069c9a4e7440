"""Tier 6: the applications. ``get_task("adding")`` returns a :class:`~rnnkit.tasks.base.Task`.

The registry names each task's module and class as a string and imports it only when asked,
so ``rnnkit --help`` and ``rnnkit tasks`` stay fast (no dataset, no scikit-learn, at start-up).
To add a task, write ``rnnkit/tasks/<name>.py`` (see :mod:`rnnkit.tasks.base`) and add a line.
"""

from __future__ import annotations

import importlib

from .base import Task, TaskData

# name -> (module, class, aliases, one-line description). Descriptions live here too so that
# listing tasks imports nothing; a test checks they match the classes.
REGISTRY: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "adding": (
        "rnnkit.tasks.longrange.adding",
        "AddingTask",
        ("adding-problem",),
        "adding problem: sum the two marked numbers of a long sequence (MSE)",
    ),
    "copy": (
        "rnnkit.tasks.longrange.copying",
        "CopyTask",
        ("copy-memory", "copying"),
        "copy memory: repeat k symbols after a long delay (accuracy)",
    ),
    "translit": (
        "rnnkit.tasks.translit",
        "TranslitTask",
        ("g2p", "transliteration"),
        "machine transliteration: English spelling to phonemes on CMUdict (WER/PER)",
    ),
    "digits": (
        "rnnkit.tasks.longrange.digits",
        "DigitsTask",
        ("sequential-digits", "seq-digits"),
        "sequential digits: classify 8x8 digits read row by row or pixel by pixel",
    ),
}


def task_names() -> list[str]:
    """The registered task names (aliases excluded), sorted."""
    return sorted(REGISTRY)


def resolve_name(name: str) -> str:
    """The canonical task name of ``name`` or one of its aliases (case-insensitive)."""
    wanted = name.strip().lower()
    for canonical, (_, _, aliases, _) in REGISTRY.items():
        if wanted == canonical or wanted in aliases:
            return canonical
    listing = ", ".join(
        f"{n} (aliases: {', '.join(REGISTRY[n][2])})" if REGISTRY[n][2] else n for n in task_names()
    )
    raise ValueError(f"unknown task {name!r}; tasks: {listing}")


def get_task(name: str) -> Task:
    """A fresh instance of the task called ``name`` (or one of its aliases)."""
    module_name, class_name, _, _ = REGISTRY[resolve_name(name)]
    return getattr(importlib.import_module(module_name), class_name)()


def describe_tasks() -> list[tuple[str, tuple[str, ...], str]]:
    """``(name, aliases, description)`` of every task, without importing any of them."""
    return [(name, REGISTRY[name][2], REGISTRY[name][3]) for name in task_names()]


__all__ = [
    "REGISTRY",
    "Task",
    "TaskData",
    "describe_tasks",
    "get_task",
    "resolve_name",
    "task_names",
]
