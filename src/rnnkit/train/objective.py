"""What a task hands the Trainer: how to batch examples, what to minimise, how to score.

The Trainer knows nothing about sequences, vocabularies or metrics; a task describes them in
a small object that satisfies `Objective` (and `TBPTTObjective` for truncated BPTT). These are
`typing.Protocol`s: no base class to inherit, any object with these members will do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch

State = Any
"""A recurrent state carried across TBPTT chunks: a tensor, or nested tuples/lists of them."""


@runtime_checkable
class Objective(Protocol):
    """The task side of training with full backpropagation through time.

    Attributes:
        metric: the key of `evaluate`'s result that early stopping, the "plateau" schedule
            and the `best/` checkpoint follow.
        higher_is_better: True for accuracy-like metrics, False for losses and error rates.
    """

    metric: str
    higher_is_better: bool

    def collate(self, examples: list[Any]) -> Any:
        """Turn a list of dataset items into one batch (tensors, possibly nested in
        tuples/lists/dicts; the Trainer moves every tensor in it to the training device)."""
        ...

    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor:
        """The scalar training loss of `batch`, the *mean* over its items.

        Under data parallelism `model` is the `DistributedDataParallel` wrapper: call it,
        but reach for attributes through `rnnkit.train.unwrap(model)`."""
        ...

    def evaluate(self, model: torch.nn.Module, dev_set: Sequence[Any]) -> dict[str, float]:
        """Score `model` on `dev_set`; must contain the key `metric`. The Trainer calls it in
        eval mode under `torch.no_grad()`, with the plain (unwrapped) model."""
        ...


@runtime_checkable
class TBPTTObjective(Objective, Protocol):
    """An objective that also supports truncated BPTT (`TrainConfig.tbptt = k`)."""

    def split_time(self, batch: Any, k: int) -> list[Any]:
        """Cut `batch` into consecutive chunks of at most `k` time steps, in time order."""
        ...

    def loss_with_state(
        self, model: torch.nn.Module, chunk: Any, state: State | None
    ) -> tuple[torch.Tensor, State]:
        """The mean loss of one chunk, starting from `state` (None: the initial state), and
        the final state of the chunk. The Trainer detaches the returned state before the next
        chunk, so gradients never flow across chunk boundaries.

        With k >= T (one chunk), `loss_with_state(model, chunk, None)[0]` must equal
        `loss(model, batch)`: truncated BPTT then *is* full BPTT."""
        ...


@runtime_checkable
class SizedObjective(Objective, Protocol):
    """An objective whose examples have a length, for `TrainConfig.bucket` (batches of
    examples of similar length, so little padding)."""

    def length(self, example: Any) -> int:
        """The length that padding follows (e.g. the source sequence's)."""
        ...


def check_objective(objective: Any, *, tbptt: bool, needs_metric: bool, bucket: bool = False):
    """Raise TypeError naming the missing members if `objective` cannot serve this run."""
    required = ["collate", "loss"]
    if tbptt:
        required += ["split_time", "loss_with_state"]
    if needs_metric:
        required += ["evaluate", "metric", "higher_is_better"]
    if bucket:
        required += ["length"]
    missing = [name for name in required if not hasattr(objective, name)]
    if missing:
        why = " (split_time and loss_with_state: for tbptt)" if tbptt else ""
        why += " (length: for bucket)" if bucket else ""
        raise TypeError(
            f"objective {type(objective).__name__} lacks {', '.join(missing)}{why}; "
            "see rnnkit.train.Objective / TBPTTObjective / SizedObjective"
        )
