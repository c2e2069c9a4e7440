"""Seeded, reproducible train/dev/test splits over unique keys.

Splitting over *keys* (for G2P: words) rather than over examples keeps every example of a key in
one split, so no word seen in training (with another of its pronunciations) leaks into the test.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping


def split_keys(
    keys: Iterable[str], sizes: Mapping[str, int], *, rest: str = "train", seed: int = 0
) -> dict[str, list[str]]:
    """Split the unique ``keys`` into disjoint named parts of fixed sizes, plus the rest.

    The unique keys are sorted, shuffled with ``random.Random(seed)`` (whose integer seeding and
    shuffle are stable across platforms and Python versions), then cut in the order of ``sizes``;
    whatever remains goes to ``rest``. Each part is returned sorted, so it reads the same however
    it was drawn. The result depends only on the set of keys, the sizes and the seed.

    Example: ``split_keys(words, {"test": 12_000, "dev": 3_000})`` ->
    ``{"test": [...], "dev": [...], "train": [...]}``.
    """
    unique = sorted(set(keys))
    if rest in sizes:
        raise ValueError(f"split_keys: rest={rest!r} is also a key of sizes {dict(sizes)}")
    for name, size in sizes.items():
        if size < 0:
            raise ValueError(f"split_keys: size of {name!r} must be >= 0, got {size}")
    if sum(sizes.values()) > len(unique):
        raise ValueError(
            f"split_keys: sizes {dict(sizes)} need {sum(sizes.values())} keys, "
            f"but there are only {len(unique)} unique keys"
        )
    random.Random(seed).shuffle(unique)
    parts: dict[str, list[str]] = {}
    start = 0
    for name, size in sizes.items():
        parts[name] = sorted(unique[start : start + size])
        start += size
    parts[rest] = sorted(unique[start:])
    return parts
