"""Turning what a user types into the model's alphabet, and saying clearly when it cannot."""

from __future__ import annotations

import re
import unicodedata

# Typographic apostrophes and dashes people paste from documents.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_DASHES = re.compile("[\u2010-\u2015\u2212]")


def normalise_word(text: str) -> str:
    """Lower case, typographic apostrophes and dashes made plain, surrounding punctuation and
    spaces removed: ``"Don’t,"`` -> ``"don't"``, ``"X–Ray"`` -> ``"x-ray"``."""
    word = _DASHES.sub("-", text.translate(_APOSTROPHES)).strip().lower()
    return word.strip('"()[]{},;:!?').strip()


def fold_accents(word: str, alphabet: set[str]) -> str:
    """Each character outside ``alphabet`` whose unaccented form is inside it replaced by that form:
    ``"naïve"`` -> ``"naive"``, ``"ﬁancé"`` -> ``"fiance"``. Characters the model knows are kept,
    so a model trained on a lexicon with accented letters still sees them."""
    # Composed first: text pasted as a letter plus a separate accent (NFD, as macOS file names
    # are) then reads like the single accented letter, known to the model or folded alike.
    composed = unicodedata.normalize("NFC", word)
    return "".join(ch if ch in alphabet else _unaccented(ch, alphabet) for ch in composed)


def _unaccented(ch: str, alphabet: set[str]) -> str:
    # NFKD splits a letter from its accents (and a ligature into its letters); the accents are
    # the combining marks, dropped (an accent on its own becomes nothing). A character with no
    # such form in the alphabet stays, to be reported.
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return base if all(c in alphabet for c in base) else ch


def word_parts(word: str) -> list[str]:
    """A hyphenated compound as its parts (``"well-known"`` -> ``["well", "known"]``), each said
    on its own; a plain word as itself. Empty parts (``"a--b"``) are dropped."""
    return [part for part in word.split("-") if part]


def outside_alphabet(word: str, alphabet: set[str]) -> list[str]:
    """The distinct characters of ``word`` the model has never seen, in order of appearance."""
    return list(dict.fromkeys(ch for ch in word if ch not in alphabet))
