"""Each cell's pointwise forward and backward for the engine, keyed by cell class.

A kernel re-states its cell's maths, so the engine runs a cell only while the cell's ``step`` and
``project_input`` are still the ones the kernel was written against: a subclass, or a patched
method (a test spy, a user's variant), runs on the reference loop instead.
"""

from __future__ import annotations

from ...cells import GRUCell, LeakyCell, LSTMCell, RNNCell
from ...cells.base import RecurrentCell
from .base import Kernel
from .elman import ElmanKernel, LeakyKernel
from .gru import GRUKernel
from .lstm import LSTMKernel

KERNELS: dict[type[RecurrentCell], type[Kernel]] = {
    LSTMCell: LSTMKernel,
    GRUCell: GRUKernel,
    RNNCell: ElmanKernel,
    LeakyCell: LeakyKernel,
}

_METHODS = ("step", "project_input", "project_recurrent")
# the methods each kernel was written against, as they were when rnnkit was imported
_WRITTEN_AGAINST = {cls: tuple(getattr(cls, m) for m in _METHODS) for cls in KERNELS}


def kernel_for(cell: RecurrentCell) -> type[Kernel] | None:
    """The engine kernel for this cell, or None when only the reference loop can run it."""
    cls = type(cell)
    if cls not in KERNELS:
        return None
    current = tuple(getattr(cls, m) for m in _METHODS)
    if current != _WRITTEN_AGAINST[cls] or any(m in vars(cell) for m in _METHODS):
        return None
    return KERNELS[cls]


__all__ = ["KERNELS", "Kernel", "kernel_for"]
