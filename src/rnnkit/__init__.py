"""rnnkit: recurrent neural networks on PyTorch.

Tier 1, cells (one time step): :class:`LSTMCell`, :class:`GRUCell`, :class:`RNNCell`,
:class:`LeakyCell`. Tier 2, :func:`unroll` runs any cell over time. Tier 3, :class:`Recurrent`
(and :class:`LSTM`, :class:`GRU`, :class:`RNN`) stacks layers, directions and dropout variants.
Tier 4, the patterns (:class:`Seq2Seq`, :class:`Acceptor`, ...) and :mod:`rnnkit.decoding`.

The upper tiers load on first use, so ``import rnnkit`` stays light: ``rk.train``,
``rk.diagnostics``, ``rk.tasks``, ``rk.data`` and ``rk.metrics``.
"""

import importlib

from . import decoding
from .cells import GRUCell, LeakyCell, LSTMCell, RecurrentCell, RNNCell
from .layers import GRU, LSTM, RNN, Bidirectional, Recurrent
from .patterns import (
    Acceptor,
    ChildSumTreeLSTMCell,
    ConditionedGenerator,
    EncoderDecoder,
    Ensemble,
    LinearChainCRF,
    NaryTreeLSTMCell,
    RecurrentDecoder,
    Recursive,
    RecursiveRNNCell,
    Seq2Seq,
    SequenceEncoder,
    Transducer,
    Tree,
    TreeBatch,
)
from .unroll import unroll

__version__ = "0.1.0"

_LAZY_SUBMODULES = ("data", "diagnostics", "metrics", "tasks", "train")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Acceptor",
    "Bidirectional",
    "ChildSumTreeLSTMCell",
    "ConditionedGenerator",
    "EncoderDecoder",
    "Ensemble",
    "GRUCell",
    "LSTMCell",
    "LeakyCell",
    "LinearChainCRF",
    "NaryTreeLSTMCell",
    "RNNCell",
    "Recurrent",
    "RecurrentCell",
    "RecurrentDecoder",
    "Recursive",
    "RecursiveRNNCell",
    "Seq2Seq",
    "SequenceEncoder",
    "Transducer",
    "Tree",
    "TreeBatch",
    "decoding",
    "unroll",
]
