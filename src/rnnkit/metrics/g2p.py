"""Scores of grapheme-to-phoneme conversion: word error rate (WER) and phoneme error rate (PER).

The standard G2P scoring, for words that may have several correct pronunciations:

- a word is correct when its prediction equals ANY of its reference pronunciations;
  ``wer = (number of incorrect words) / (number of words)``;
- for each word, the *closest* reference is the one at the smallest edit distance from the
  prediction (ties: the first listed); ``per = sum over words of that distance / sum over words
  of the length of that closest reference``. It is a corpus-level ratio (total edits over total
  reference phonemes), not a mean of per-word ratios.

An empty prediction is at distance ``len(ref)`` from every reference (all deletions).
Both rates are fractions in [0, 1] (PER can exceed 1 when predictions are much longer than the
references); ``format_g2p_scores`` prints them as percentages.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from rnnkit.metrics.edit import edit_distance

Tokens = Sequence[Hashable]


def g2p_scores(
    predictions: Sequence[Tokens], references_list: Sequence[Sequence[Tokens]]
) -> dict[str, float | int]:
    """WER and PER of ``predictions`` (one token sequence per word) against their references.

    Args:
        predictions: the predicted phoneme sequence of each word, e.g. ``["K", "AE", "T"]``.
        references_list: for each word, the list of its correct pronunciations.

    Returns:
        ``{"wer", "per"}`` as fractions, plus the counts they come from: ``"words"``,
        ``"word_errors"``, ``"phoneme_edits"`` and ``"reference_phonemes"`` (the counts add up
        across shards, the rates do not).
    """
    if len(predictions) != len(references_list):
        raise ValueError(
            f"g2p_scores: predictions and references_list must have one entry per word, "
            f"got {len(predictions)} predictions and {len(references_list)} reference lists"
        )
    if len(predictions) == 0:
        raise ValueError("g2p_scores: no words to score (predictions is empty)")
    word_errors = edits = ref_phonemes = 0
    for i, (pred, refs) in enumerate(zip(predictions, references_list, strict=True)):
        _check_tokens(pred, f"predictions[{i}]")
        if isinstance(refs, str) or len(refs) == 0:
            raise ValueError(
                f"g2p_scores: references_list[{i}] must be a non-empty list of pronunciations, "
                f"got {refs!r}"
            )
        for j, ref in enumerate(refs):
            _check_tokens(ref, f"references_list[{i}][{j}]")
        distances = [edit_distance(pred, ref) for ref in refs]
        best = min(range(len(refs)), key=distances.__getitem__)  # min() keeps the first tie
        word_errors += distances[best] != 0
        edits += distances[best]
        ref_phonemes += len(refs[best])
    if ref_phonemes == 0:
        raise ValueError("g2p_scores: every closest reference is empty, so PER is undefined")
    return {
        "wer": word_errors / len(predictions),
        "per": edits / ref_phonemes,
        "words": len(predictions),
        "word_errors": word_errors,
        "phoneme_edits": edits,
        "reference_phonemes": ref_phonemes,
    }


def format_g2p_scores(scores: dict[str, float | int]) -> str:
    """One line for logs, rates as percentages: ``WER 23.10%  PER 5.42%  (12000 words)``."""
    return (
        f"WER {100 * scores['wer']:.2f}%  PER {100 * scores['per']:.2f}%  ({scores['words']} words)"
    )


def _check_tokens(tokens: object, name: str) -> None:
    # A string would be scored character by character: "K AE T" has 7 "phonemes". Refuse it.
    if isinstance(tokens, str):
        raise TypeError(
            f"g2p_scores: {name} must be a sequence of phonemes, got the string {tokens!r}; "
            "split it first, e.g. text.split()"
        )
