"""Edit (Levenshtein) distance over token sequences, computed by rapidfuzz."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from rapidfuzz.distance import Levenshtein


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """The minimum number of insertions, deletions and substitutions turning ``a`` into ``b``.

    Works on any sequences of hashable tokens: lists or tuples of phonemes, of words, of ids, and
    1-D tensors of ids. A ``str`` is a sequence of characters: the character-level distance.
    """
    return Levenshtein.distance(_tokens(a), _tokens(b))


def _tokens(seq: Sequence[Hashable]) -> str | list[Hashable]:
    if isinstance(seq, str):
        return seq
    if hasattr(seq, "tolist"):
        # Tensor elements hash by identity, so two equal ids would never match: use Python ints.
        return seq.tolist()
    return list(seq)
