"""Tier 1: cells. A cell computes one time step, ``(x_t, state) -> (y_t, state)``."""

from __future__ import annotations

import inspect

from .base import RecurrentCell, State
from .gru import GRUCell
from .leaky import LeakyCell
from .lstm import LSTMCell
from .rnn import RNNCell

CELL_KINDS: dict[str, type[RecurrentCell]] = {
    "rnn": RNNCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "leaky": LeakyCell,
}


def resolve_cell_class(kind: str | type[RecurrentCell]) -> type[RecurrentCell]:
    """A cell class from a kind name ("lstm", "gru", "rnn", "leaky") or a RecurrentCell subclass."""
    if isinstance(kind, type) and issubclass(kind, RecurrentCell):
        return kind
    if isinstance(kind, str) and kind.lower() in CELL_KINDS:
        return CELL_KINDS[kind.lower()]
    raise ValueError(
        f"cell kind must be one of {sorted(CELL_KINDS)} or a RecurrentCell subclass, got {kind!r}"
    )


def make_cell(kind, input_size: int, hidden_size: int, **options) -> RecurrentCell:
    """Build a cell, naming any option the cell does not take and listing the ones it does."""
    cls = resolve_cell_class(kind)
    valid = [
        name
        for name in inspect.signature(cls.__init__).parameters
        if name not in ("self", "input_size", "hidden_size")
    ]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"{cls.__name__} got unknown option(s) {unknown}; its options are {valid}")
    return cls(input_size, hidden_size, **options)


__all__ = [
    "CELL_KINDS",
    "GRUCell",
    "LSTMCell",
    "LeakyCell",
    "RNNCell",
    "RecurrentCell",
    "State",
    "make_cell",
    "resolve_cell_class",
]
