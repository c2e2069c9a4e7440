"""Tier 3: layers built from cells: stacking, directions, dropout variants, skips."""

from .bidirectional import Bidirectional
from .dropout import Dropout, dropout
from .merge import MERGES
from .recurrent import Recurrent
from .shorthands import GRU, LSTM, RNN

__all__ = ["GRU", "LSTM", "MERGES", "RNN", "Bidirectional", "Dropout", "Recurrent", "dropout"]
