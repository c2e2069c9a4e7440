"""Data order: which examples form the batch of each step, and moving batches to a device.

The order is a pure function of (seed, step): epoch e is a permutation drawn from a
`torch.Generator` seeded with (seed, e), cut into full batches. Resuming therefore needs no
sampler state at all, only the step; and every rank computes the same global batch and takes
its own contiguous slice of it.

With lengths, batches hold examples of similar length (bucketing, by
`rnnkit.data.BucketBatchSampler`, whose order is likewise a function of (seed, epoch)). Padding,
which a recurrent layer pays for at every step, nearly disappears, while batch contents and order
stay random from epoch to epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from rnnkit.data import BucketBatchSampler


class BatchOrder:
    """The example indices of each step's global batch (and of one rank's share of it).

    The trailing partial batch of each epoch (fewer than `batch_size` examples) is dropped so
    every step has the same batch size; a fresh permutation each epoch means no example is
    dropped systematically.
    """

    def __init__(
        self,
        num_examples: int,
        batch_size: int,
        seed: int,
        lengths: Sequence[int] | None = None,
        pool: int = 50,
    ) -> None:
        if num_examples < batch_size:
            raise ValueError(
                f"train_set has {num_examples} examples, fewer than batch_size={batch_size}"
            )
        if lengths is not None and len(lengths) != num_examples:
            raise ValueError(f"BatchOrder: {len(lengths)} lengths for {num_examples} examples")
        self.batch_size = batch_size
        self.num_examples = num_examples
        self.batches_per_epoch = num_examples // batch_size
        self.seed = seed
        self.buckets = (
            None
            if lengths is None
            else BucketBatchSampler(lengths, batch_size, drop_last=True, seed=seed, pool_size=pool)
        )
        self._cached: tuple[int, torch.Tensor] | None = None

    def epoch_and_position(self, step: int) -> tuple[int, int]:
        """The epoch of `step` and its batch position within that epoch."""
        return divmod(step, self.batches_per_epoch)

    def global_batch(self, step: int) -> list[int]:
        """Indices of all `batch_size` examples of `step`."""
        epoch, position = self.epoch_and_position(step)
        start = position * self.batch_size
        return self._permutation(epoch)[start : start + self.batch_size].tolist()

    def local_batch(self, step: int, rank: int, world_size: int) -> list[int]:
        """Rank `rank`'s contiguous share of the global batch of `step`."""
        share = self.batch_size // world_size
        return self.global_batch(step)[rank * share : (rank + 1) * share]

    def _permutation(self, epoch: int) -> torch.Tensor:
        if self._cached is None or self._cached[0] != epoch:
            if self.buckets is None:
                # A large odd multiplier keeps (seed, epoch) pairs from colliding in practice.
                seed = (self.seed * 1_000_003 + epoch) % 2**63
                order = torch.randperm(
                    self.num_examples, generator=torch.Generator().manual_seed(seed)
                )
            else:  # its full batches, one after the other
                self.buckets.set_epoch(epoch)
                order = torch.tensor([i for batch in self.buckets for i in batch])
            self._cached = (epoch, order)
        return self._cached[1]


def to_device(obj: Any, device: torch.device) -> Any:
    """Move every tensor inside `obj` (nested tuples, lists, dicts) to `device`.

    Objects with their own `.to` (tensors, PackedSequence) handle themselves, which keeps a
    PackedSequence's `batch_sizes` on the CPU where PyTorch needs it.
    """
    if hasattr(obj, "to") and callable(obj.to):
        return obj.to(device)
    if isinstance(obj, Mapping):
        return type(obj)({key: to_device(value, device) for key, value in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(to_device(value, device) for value in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(value, device) for value in obj)
    return obj


def detach_state(state: Any) -> Any:
    """Cut the graph behind a recurrent state (a tensor or nested tuples/lists of them)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (list, tuple)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, Mapping):
        return type(state)({key: detach_state(value) for key, value in state.items()})
    return state
