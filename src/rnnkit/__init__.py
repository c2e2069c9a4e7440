"""rnnkit: recurrent neural networks on PyTorch.

Tier 1, cells (one time step): :class:`LSTMCell`, :class:`GRUCell`, :class:`RNNCell`,
:class:`LeakyCell`. Tier 2, :func:`unroll` runs any cell over time. Tier 3, :class:`Recurrent`
(and :class:`LSTM`, :class:`GRU`, :class:`RNN`) stacks layers, directions and dropout variants.
"""

from .cells import GRUCell, LeakyCell, LSTMCell, RecurrentCell, RNNCell
from .layers import GRU, LSTM, RNN, Bidirectional, Recurrent
from .patterns import EncoderDecoder, RecurrentDecoder, Seq2Seq
from .unroll import unroll

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "EncoderDecoder",
    "GRUCell",
    "LSTMCell",
    "LeakyCell",
    "RNNCell",
    "Recurrent",
    "RecurrentCell",
    "RecurrentDecoder",
    "Seq2Seq",
    "unroll",
]
