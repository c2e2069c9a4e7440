"""A hook into the reference loop, so that tools can watch (and differentiate) every step's state.

The diagnostics use it to measure ||dL/dh_t||: an observer returns ``state + 0 * probe`` with a
probe that requires grad, and autograd gives the gradient that reaches the state at step t through
every path, the recurrence included. While an observer is active, layers run on the reference loop
(a fused kernel exposes no per-step state).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from torch import nn

from ..cells.base import State

# observer(cell, step, state) -> state, called on each step's new state in processing order.
Observer = Callable[[nn.Module, int, State], State]

_observer: ContextVar[Observer | None] = ContextVar("rnnkit_state_observer", default=None)


@contextmanager
def observe_states(observer: Observer) -> Iterator[None]:
    """Within the block, every reference-loop step passes its new state through ``observer``."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def current_observer() -> Observer | None:
    """The active observer, or None."""
    return _observer.get()
