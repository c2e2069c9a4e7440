"""The task's data: CMUdict (or a user's lexicon) split by word, encoded for the model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ...data import Vocab, cmudict_split, lower_case_words, read_lexicon, split_keys
from ...data.cmudict import load_cmudict
from ...data.lexicon import Lexicon


class Entry(NamedTuple):
    """A word to score: its spelling and every correct pronunciation."""

    word: str
    pronunciations: list[tuple[str, ...]]


class Pair(NamedTuple):
    """A training example: letter ids and phoneme ids (no specials)."""

    letters: list[int]
    phonemes: list[int]


def load_splits(
    lexicon_path: str | None, lexicon_format: str, test_words: int, dev_words: int, seed: int
) -> dict[str, Lexicon]:
    """Train/dev/test lexicons, disjoint by word: CMUdict by default, or the user's file, its
    words lower-cased as CMUdict's are (``predict`` lower-cases what the user types)."""
    if lexicon_path is None:
        return cmudict_split(load_cmudict(), test_words=test_words, dev_words=dev_words, seed=seed)
    lexicon = lower_case_words(read_lexicon(lexicon_path, lexicon_format))
    if len(lexicon) <= test_words + dev_words:
        raise ValueError(
            f"{lexicon_path}: {len(lexicon)} words cannot hold test_words={test_words} plus "
            f"dev_words={dev_words} and leave some for training"
        )
    parts = split_keys(lexicon, {"test": test_words, "dev": dev_words}, rest="train", seed=seed)
    return {name: {w: lexicon[w] for w in words} for name, words in parts.items()}


def build_vocabularies(train: Lexicon) -> tuple[Vocab, Vocab]:
    """Letters and phonemes seen in training (the same four specials on both sides)."""
    letters = Vocab.build((list(word) for word in train), name="letters")
    phonemes = Vocab.build((pron for prons in train.values() for pron in prons), name="phonemes")
    return letters, phonemes


def training_pairs(lexicon: Lexicon, letters: Vocab, phonemes: Vocab) -> list[Pair]:
    """One example per (word, pronunciation): alternates each teach the model once."""
    return [
        Pair(letters.encode(list(word)), phonemes.encode(pron))
        for word, prons in lexicon.items()
        for pron in prons
    ]


def scoring_entries(lexicon: Lexicon) -> list[Entry]:
    """One entry per word, with all its pronunciations (a word is right if it matches any)."""
    return [Entry(word, list(prons)) for word, prons in lexicon.items()]


def evenly_spaced(items: Sequence, count: int | None) -> Sequence:
    """``count`` items spread evenly over ``items`` (the splits list words alphabetically, so the
    first ``count`` would all start with "a")."""
    if count is None or count >= len(items):
        return items
    return [items[i * len(items) // count] for i in range(count)]
