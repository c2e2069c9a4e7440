"""Range checks that task ``Config`` dataclasses run in ``__post_init__``.

A failed check is a ValueError naming the field, the bound and the value; the run-config loader
(:func:`rnnkit.tasks.config.build_dataclass`) adds where the value came from.
"""

from __future__ import annotations

from typing import Any


def check_positive(config: Any, *names: str, minimum: int = 1, optional: bool = False) -> None:
    """Raise a ValueError for the first field of ``config`` in ``names`` below ``minimum``.

    With ``optional=True`` a field may also be None (meaning "no limit" in the task's config).
    """
    for name in names:
        value = getattr(config, name)
        if optional and value is None:
            continue
        if value < minimum:
            none = " or none" if optional else ""
            raise ValueError(f"{name} must be positive (>= {minimum}){none}, got {value}")
