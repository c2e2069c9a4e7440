"""Pronunciation lexicons: word -> its pronunciations, read from the two usual file formats.

A *lexicon* is a plain ``dict[str, list[tuple[str, ...]]]``: each word maps to its distinct
pronunciations, each a tuple of phonemes, in the order the file lists them. Words keep the order
of their first appearance in the file.

File formats (both UTF-8 by default, with or without a byte-order mark; a line ends at ``\n``,
``\r\n`` or ``\r``; blank lines ignored):

- ``"cmudict"``: the CMU Pronouncing Dictionary layout, ``word P1 P2 ...`` separated by
  whitespace. An alternate pronunciation is written ``word(2) ...``, ``word(3) ...``; it is
  grouped with ``word``. A ``#`` token after the word starts a comment
  (``dail(2) D OY1 L # org, irish``); lines starting with ``;;;`` (the old 0.7b release) or
  with a lone ``#`` are comments. The word itself may start with ``#`` (0.7b has
  ``#HASH-MARK``).
- ``"tsv"``: ``word<TAB>P1 P2 ...``, one pronunciation per line; a word on several lines has
  several pronunciations. Lines starting with ``#`` are comments.

Stress: CMUdict marks vowels with a stress digit (``AH0``, ``ER1``). G2P work usually predicts
phonemes without stress, so the readers strip trailing digits by default and then drop the
pronunciations that became duplicates (``AH0 B`` and ``AH1 B`` both become ``AH B``).
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterable
from pathlib import Path

Pronunciation = tuple[str, ...]
Lexicon = dict[str, list[Pronunciation]]

FORMATS = ("cmudict", "tsv")

# "word(2)" -> "word": the numbered alternates of the CMUdict layout.
_VARIANT_SUFFIX = re.compile(r"\(\d+\)$")


def remove_stress(pronunciation: Iterable[str]) -> Pronunciation:
    """Remove the stress digits: ``("W", "ER1", "D")`` -> ``("W", "ER", "D")``."""
    return tuple(phone.rstrip("0123456789") for phone in pronunciation)


def read_lexicon(
    path: str | Path,
    format: str = "cmudict",
    *,
    strip_stress: bool = True,
    encoding: str = "utf-8",
) -> Lexicon:
    """Read a pronunciation file in the ``"cmudict"`` or ``"tsv"`` format (see module docs).

    Raises:
        ValueError: a malformed line or undecodable bytes; the message names the file and the
            line number, and shows the line.
        FileNotFoundError: ``path`` does not exist.
    """
    path = Path(path)
    lines = _checked_lines(path, encoding)
    # The lines are read lazily, so a bad format is reported before the file is opened.
    return parse_lexicon_lines(lines, format, strip_stress=strip_stress, source=str(path))


def parse_lexicon_lines(
    lines: Iterable[str],
    format: str = "cmudict",
    *,
    strip_stress: bool = True,
    source: str = "<lines>",
) -> Lexicon:
    """Parse lines already in memory; ``source`` names them in error messages."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    parse = _parse_cmudict_line if format == "cmudict" else _parse_tsv_line
    lexicon: Lexicon = {}
    for lineno, line in enumerate(lines, start=1):
        entry = parse(line, source, lineno)
        if entry is None:
            continue
        word, phones = entry
        pron = remove_stress(phones) if strip_stress else tuple(phones)
        if "" in pron:
            raise ValueError(
                f"{source}:{lineno}: a phoneme made of stress digits only, in {line.rstrip()!r}"
            )
        prons = lexicon.setdefault(word, [])
        if pron not in prons:  # a word has a handful of pronunciations: a list scan is fine
            prons.append(pron)
    return lexicon


def filter_words(lexicon: Lexicon, pattern: str | re.Pattern[str]) -> Lexicon:
    """The entries whose whole word matches ``pattern`` (``re.fullmatch``), order kept."""
    regex = re.compile(pattern)
    return {word: prons for word, prons in lexicon.items() if regex.fullmatch(word)}


def lower_case_words(lexicon: Lexicon) -> Lexicon:
    """The lexicon with its words in lower case; words that differed only in case become one,
    with the pronunciations of each (first appearances kept in order, duplicates dropped)."""
    folded: Lexicon = {}
    for word, prons in lexicon.items():
        kept = folded.setdefault(word.lower(), [])
        for pron in prons:
            if pron not in kept:
                kept.append(pron)
    return folded


def lexicon_pairs(lexicon: Lexicon) -> list[tuple[str, Pronunciation]]:
    """Every (word, pronunciation) pair: the training examples of a G2P model.

    A word with two pronunciations gives two examples; at test time the word counts once and is
    scored against all its pronunciations (see ``rnnkit.metrics.g2p_scores``).
    """
    return [(word, pron) for word, prons in lexicon.items() for pron in prons]


# --- line parsers: (line, source, lineno) -> (word, phones) or None for a line to skip ----------


def _parse_cmudict_line(line: str, source: object, lineno: int) -> tuple[str, list[str]] | None:
    stripped = line.strip()
    if not stripped or stripped.startswith(";;;"):
        return None
    word, *phones = stripped.split()
    if word == "#":  # a comment line; "#hash-mark" is a word
        return None
    if "#" in stripped[len(word) :]:  # a trailing comment: keep the tokens before it
        comment = next((i for i, tok in enumerate(phones) if tok.startswith("#")), len(phones))
        phones = phones[:comment]
    if not phones:
        raise ValueError(
            f"{source}:{lineno}: expected 'word PHONE PHONE ...' with at least one phoneme, "
            f"got {line.rstrip()!r}"
        )
    return _VARIANT_SUFFIX.sub("", word), phones


def _parse_tsv_line(line: str, source: object, lineno: int) -> tuple[str, list[str]] | None:
    content = line.rstrip("\r\n")
    if not content.strip() or content.startswith("#"):
        return None
    fields = content.split("\t")
    word = fields[0].strip()
    phones = fields[1].split() if len(fields) == 2 else []
    if len(fields) != 2 or not word or not phones:
        raise ValueError(
            f"{source}:{lineno}: expected 'word<TAB>PHONE PHONE ...' (two tab-separated fields, "
            f"both non-empty), got {content!r}"
        )
    return word, phones


def _checked_lines(path: Path, encoding: str) -> Iterable[str]:
    """Yield the file's lines, each ending in ``\n`` whichever line ends the file uses. The whole
    file is decoded before it is split, so that any encoding works (UTF-16 too); a decoding
    error names its line."""
    # The utf-16 and utf-32 codecs drop a byte-order mark themselves; utf-8's is dropped here.
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    raw = path.read_bytes()
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as err:
        before = raw[: err.start].decode(codec, errors="replace")
        lineno = len(io.StringIO(before, newline=None).read().split("\n"))
        raise ValueError(
            f"{path}:{lineno}: the bytes are not valid {encoding} ({err.reason}); "
            "pass the file's encoding, e.g. encoding='latin-1' for CMUdict 0.7b"
        ) from None
    yield from io.StringIO(text, newline=None)
