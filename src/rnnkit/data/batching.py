"""Turning variable-length id sequences into padded batches.

- ``pad_batch``: a list of id sequences -> a padded ``(B, T)`` LongTensor and the lengths, the
  ``(x, lengths)`` pair every rnnkit layer and pattern accepts.
- ``teacher_forcing_batch``: target sequences -> decoder input (``bos y``) and output
  (``y eos``), padded, for seq2seq training.
- ``BucketBatchSampler``: batches of indices whose sequences have similar lengths, so little
  compute is spent on padding; seeded and deterministic, with a fresh order every epoch.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


def pad_batch(
    seqs: Sequence[Sequence[int] | torch.Tensor], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad id sequences to the longest one.

    Args:
        seqs: B sequences of ints (lists, tuples or 1-D tensors); empty sequences are allowed.
        pad_id: the id written after each sequence's end.

    Returns:
        ``(ids, lengths)``: a LongTensor ``(B, T)`` with ``T`` the longest length, and a
        LongTensor ``(B,)`` of the original lengths.
    """
    if len(seqs) == 0:
        raise ValueError("pad_batch: seqs is empty; a batch needs at least one sequence")
    # One torch.tensor call on padded Python lists: a tensor and a copy per row cost about 10
    # microseconds a row, an eighth of the small transliteration model's step (benchmarks.collate).
    rows = [seq if isinstance(seq, list) else _as_list(i, seq) for i, seq in enumerate(seqs)]
    width = max(len(row) for row in rows)
    try:
        ids = torch.tensor([row + [pad_id] * (width - len(row)) for row in rows], dtype=torch.long)
    except (TypeError, ValueError, RuntimeError):
        ids = None
    if ids is None or ids.dim() != 2:
        raise _first_bad_row(rows)
    return ids, torch.tensor([len(row) for row in rows], dtype=torch.long)


def _as_list(i: int, seq: Sequence[int] | torch.Tensor) -> list:
    """Row ``i`` of a batch as a list, or a ValueError if it is not a 1-D sequence."""
    if isinstance(seq, torch.Tensor):
        if seq.dim() == 1:
            return seq.tolist()
        got = f"shape {tuple(seq.shape)}"
    elif isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
        got = type(seq).__name__
    else:
        return list(seq)
    raise ValueError(f"pad_batch: seqs[{i}] must be 1-D (a sequence of ids), got {got}")


def _first_bad_row(rows: list[list]) -> ValueError:
    """The error for a batch whose rows are not all flat sequences of integer ids."""
    for i, row in enumerate(rows):
        try:
            shape = tuple(torch.as_tensor(row, dtype=torch.long).shape)
        except (TypeError, ValueError, RuntimeError):
            return ValueError(f"pad_batch: seqs[{i}] must hold integer ids, got {row!r:.80}")
        if len(shape) != 1:
            return ValueError(
                f"pad_batch: seqs[{i}] must be 1-D (a sequence of ids), got shape {shape}"
            )
    return ValueError("pad_batch: seqs must hold sequences of integer ids")


def teacher_forcing_batch(
    targets: Sequence[Sequence[int]], *, pad_id: int, bos_id: int, eos_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decoder input and output for teacher forcing.

    For each target ``y``, the decoder reads ``bos y`` and is trained to emit ``y eos``: both
    have length ``len(y) + 1``, so one ``lengths`` serves both.

    Returns:
        ``(tgt_in, tgt_out, lengths)``: LongTensors ``(B, T)``, ``(B, T)`` and ``(B,)``.
    """
    tgt_in, lengths = pad_batch([[bos_id, *map(int, y)] for y in targets], pad_id)
    tgt_out, _ = pad_batch([[*map(int, y), eos_id] for y in targets], pad_id)
    return tgt_in, tgt_out, lengths


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of dataset indices with similar sequence lengths.

    Each epoch: shuffle all indices, cut them into pools of ``pool_size`` batches, sort each pool
    by length (the shuffle makes ties random), cut each pool into batches, then shuffle the order
    of the batches. Sorting gives batches with little padding; pooling and shuffling keep batch
    contents and order random from epoch to epoch. ``pool_size=None`` sorts the whole dataset at
    once (least padding, least randomness in which sequences share a batch).

    The order depends only on ``seed`` and the epoch. The epoch advances by one each time a pass
    starts (each ``iter``), so consecutive epochs differ without extra calls; ``set_epoch`` sets it
    explicitly (to resume training at a given epoch, or to repeat one).

    With ``shuffle=False`` the batches are consecutive runs of the indices sorted by length
    (ties by index), the same every epoch: handy for evaluation.

    Args:
        lengths: the length of every example, in dataset order.
        batch_size: examples per batch (the last batch of a pool may be smaller).
        shuffle: randomise as described above.
        drop_last: drop batches smaller than ``batch_size``.
        seed: the random seed.
        pool_size: batches per sorting pool, or None for the whole dataset.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        pool_size: int | None = 100,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"BucketBatchSampler: batch_size must be >= 1, got {batch_size}")
        if pool_size is not None and pool_size < 1:
            raise ValueError(f"BucketBatchSampler: pool_size must be >= 1 or None, got {pool_size}")
        self.lengths = [int(n) for n in lengths]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.pool_size = pool_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass use the order of ``epoch``."""
        self.epoch = epoch

    def _batches(self, epoch: int) -> list[list[int]]:
        indices = list(range(len(self.lengths)))
        if not self.shuffle:
            indices.sort(key=lambda i: self.lengths[i])
            return self._cut(indices)
        # A string seed is hashed deterministically by random.Random (not by hash()).
        rng = random.Random(f"{self.seed}:{epoch}")
        rng.shuffle(indices)
        pool = max(len(indices), 1) if self.pool_size is None else self.pool_size * self.batch_size
        batches = []
        for start in range(0, len(indices), pool):
            # sorted() is stable, so equal lengths keep their shuffled order.
            chunk = sorted(indices[start : start + pool], key=lambda i: self.lengths[i])
            batches.extend(self._cut(chunk))
        rng.shuffle(batches)
        return batches

    def _cut(self, indices: list[int]) -> list[list[int]]:
        batches = [
            indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)
        ]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches(self.epoch)
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        # Every pool but the last holds a whole number of batches, so only the very last batch
        # can be short: the count is the same as for plain consecutive batching.
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
