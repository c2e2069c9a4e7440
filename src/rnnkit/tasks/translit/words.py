"""Turning what a user types into the model's alphabet, and saying clearly when it cannot."""

from __future__ import annotations

import re

# Typographic apostrophes and dashes people paste from documents.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_DASHES = re.compile("[\u2010-\u2015\u2212]")


def normalise_word(text: str) -> str:
    """Lower case, typographic apostrophes and dashes made plain, surrounding punctuation and
    spaces removed: ``"Don’t,"`` -> ``"don't"``, ``"X–Ray"`` -> ``"x-ray"``."""
    word = _DASHES.sub("-", text.translate(_APOSTROPHES)).strip().lower()
    return word.strip('"()[]{},;:!?').strip()


def word_parts(word: str) -> list[str]:
    """A hyphenated compound as its parts (``"well-known"`` -> ``["well", "known"]``), each said
    on its own; a plain word as itself. Empty parts (``"a--b"``) are dropped."""
    return [part for part in word.split("-") if part]


def outside_alphabet(word: str, alphabet: set[str]) -> list[str]:
    """The distinct characters of ``word`` the model has never seen, in order of appearance."""
    return list(dict.fromkeys(ch for ch in word if ch not in alphabet))
