"""What the Trainer minimises and how transliterations are scored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ...data import Vocab, pad_batch, teacher_forcing_batch
from ...decoding import AttentionWindow
from ...metrics import g2p_scores
from .data import Entry, Pair
from .distill import PairKey, SoftTargets


class Alternative(NamedTuple):
    """One of a word's n best pronunciations (:meth:`TranslitObjective.alternatives`)."""

    phonemes: list[str]
    ended: bool  # False: cut at the word's length limit, the model never wrote </s>
    probability: float  # the model's, of these phonemes (and </s>, if it ended them)


class TranslitObjective:
    """Teacher-forced cross-entropy for training; WER/PER of decoded words for evaluation.

    ``metric = "wer"`` (lower is better) drives early stopping and the best checkpoint.

    With ``distill`` (the teachers' :class:`~.distill.SoftTargets`), the training loss is
    ``(1 - distill_weight) * cross-entropy + distill_weight * KL(teachers || model)``, both
    averaged over the batch's phonemes; the batch then also carries each pair's key.
    """

    metric = "wer"
    higher_is_better = False

    def __init__(
        self,
        letters: Vocab,
        phonemes: Vocab,
        *,
        beam_size: int = 1,
        nbest: int = 1,
        max_len: int = 32,
        window: AttentionWindow | None = None,
        label_smoothing: float = 0.0,
        eval_batch_size: int = 500,
        distill: SoftTargets | None = None,
        distill_weight: float = 0.5,
    ) -> None:
        self.letters, self.phonemes = letters, phonemes
        self.beam_size = beam_size
        self.nbest = nbest
        self.max_len = max_len
        self.window = window
        self.label_smoothing = label_smoothing
        self.eval_batch_size = eval_batch_size
        self.distill, self.distill_weight = distill, distill_weight

    def collate(self, pairs: list[Pair]) -> tuple:
        src, src_lengths = pad_batch([p.letters for p in pairs], self.letters.pad_id)
        tgt_in, tgt_out, _ = teacher_forcing_batch(
            [p.phonemes for p in pairs],
            pad_id=self.phonemes.pad_id,
            bos_id=self.phonemes.bos_id,
            eos_id=self.phonemes.eos_id,
        )
        if self.distill is None:
            return src, src_lengths, tgt_in, tgt_out
        keys: tuple[PairKey, ...] = tuple((tuple(p.letters), tuple(p.phonemes)) for p in pairs)
        return src, src_lengths, tgt_in, tgt_out, keys

    def length(self, pair: Pair) -> int:
        """What padding follows, for batches of similar length (``bucket = true``)."""
        return len(pair.letters)

    def loss(self, model: nn.Module, batch: tuple) -> Tensor:
        src, src_lengths, tgt_in, tgt_out = batch[:4]
        logits = model(src, src_lengths, tgt_in)
        gold = F.cross_entropy(
            logits.flatten(0, 1),
            tgt_out.flatten(),
            ignore_index=self.phonemes.pad_id,
            label_smoothing=self.label_smoothing,
        )
        if self.distill is None:
            return gold
        soft = self.distill(batch[4], src, src_lengths, tgt_in)
        phonemes = tgt_out != self.phonemes.pad_id
        # KL per phoneme, summed over the vocabulary, averaged over the batch's phonemes
        taught = F.kl_div(logits[phonemes].log_softmax(-1), soft[phonemes], reduction="batchmean")
        return (1.0 - self.distill_weight) * gold + self.distill_weight * taught

    def transliterate(
        self, model: nn.Module, words: Sequence[str], beam_size: int | None = None
    ) -> list[list[str]]:
        """The phonemes the model says for each word (letters must be in the alphabet)."""
        return [phonemes for phonemes, _ in self.pronounce(model, words, beam_size)]

    @torch.no_grad()
    def pronounce(
        self, model: nn.Module, words: Sequence[str], beam_size: int | None = None
    ) -> list[tuple[list[str], bool]]:
        """For each word, its phonemes and whether the model ended them (False: cut at the
        word's length limit, the model never wrote ``</s>``)."""

        def decode(chunk: list[str], max_len: int) -> list[tuple[list[str], bool]]:
            return [
                self._said(row) for row in self.generate(model, chunk, max_len, beam_size).cpu()
            ]

        return self._by_length_limit(words, decode)

    @torch.no_grad()
    def alternatives(
        self, model: nn.Module, words: Sequence[str], n: int
    ) -> list[list[Alternative]]:
        """For each word, the ``n`` most probable pronunciations the beam found, best first, each
        with the model's probability of it and whether the model ended it. The beam is at least
        ``n`` wide; the first pronunciation is :meth:`pronounce`'s when it is not widened."""

        def decode(chunk: list[str], max_len: int) -> list[list[Alternative]]:
            beam = max(self.beam_size, n)
            tokens, scores = self.generate(model, chunk, max_len, beam, nbest=n)
            return [
                [Alternative(*self._said(row), p) for row, p in zip(rows, probs, strict=True)]
                for rows, probs in zip(tokens.cpu(), scores.exp().tolist(), strict=True)
            ]

        return self._by_length_limit(words, decode)

    def _said(self, row: Tensor) -> tuple[list[str], bool]:
        return self.phonemes.decode(row), bool((row == self.phonemes.eos_id).any())

    def _by_length_limit(self, words: Sequence[str], decode: Callable[[list[str], int], list]):
        # Words are decoded in batches of the same length limit (decoding_length), so that what a
        # word gets never depends on the other words: a model that loses its place in a long
        # word stops at that word's own limit.
        by_limit: dict[int, list[int]] = defaultdict(list)
        for index, word in enumerate(words):
            by_limit[self.decoding_length([word])].append(index)
        results: list = [None] * len(words)
        for max_len, indices in by_limit.items():
            for start in range(0, len(indices), self.eval_batch_size):
                chunk = indices[start : start + self.eval_batch_size]
                decoded = decode([words[i] for i in chunk], max_len)
                for index, result in zip(chunk, decoded, strict=True):
                    results[index] = result
        return results

    def decoding_length(self, words: Sequence[str]) -> int:
        """The most phonemes generated for ``words``: ``max_len``, or twice the longest word's
        letters if that is more (a long word is not cut at ``max_len``)."""
        return max([self.max_len, *(2 * len(w) for w in words)])

    def generate(
        self,
        model: nn.Module,
        words: Sequence[str],
        max_len: int,
        beam_size: int | None = None,
        return_attention: bool = False,
        nbest: int | None = None,
    ):
        """``model.generate`` on one batch of ``words``, as this task decodes: its beam width
        and attention window (``nbest``: see :func:`rnnkit.patterns.generation.search`)."""
        device = next(model.parameters()).device
        src, lengths = pad_batch([self.letters.encode(list(w)) for w in words], self.letters.pad_id)
        return model.generate(
            src.to(device), lengths.to(device), max_len=max_len,
            beam_size=self.beam_size if beam_size is None else beam_size, window=self.window,
            return_attention=return_attention, nbest=nbest,
        )  # fmt: skip

    def evaluate(self, model: nn.Module, entries: Sequence[Entry]) -> dict[str, float]:
        """WER and PER; with ``nbest`` > 1 also ``wer@n``: the share of words none of whose
        ``n`` most probable pronunciations is right."""
        words, references = [e.word for e in entries], [e.pronunciations for e in entries]
        if self.nbest == 1:
            scores = g2p_scores(self.transliterate(model, words), references)
            return {"wer": scores["wer"], "per": scores["per"]}
        found = self.alternatives(model, words, self.nbest)
        scores = g2p_scores([options[0].phonemes for options in found], references)
        missed = sum(
            not any(tuple(o.phonemes) in refs for o in options)
            for options, refs in zip(found, references, strict=True)
        )
        return {
            "wer": scores["wer"],
            "per": scores["per"],
            f"wer@{self.nbest}": missed / len(words),
        }
