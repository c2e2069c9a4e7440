"""``rk.LSTM``, ``rk.GRU`` and ``rk.RNN``: :class:`Recurrent` with the cell kind fixed."""

from __future__ import annotations

from .recurrent import Recurrent


class LSTM(Recurrent):
    """``Recurrent("lstm", ...)``; with default options it equals ``torch.nn.LSTM``."""

    def __init__(self, input_size: int, hidden_size: int, **options) -> None:
        super().__init__("lstm", input_size, hidden_size, **options)


class GRU(Recurrent):
    """``Recurrent("gru", ...)``; with default options it equals ``torch.nn.GRU``."""

    def __init__(self, input_size: int, hidden_size: int, **options) -> None:
        super().__init__("gru", input_size, hidden_size, **options)


class RNN(Recurrent):
    """``Recurrent("rnn", ...)`` (Elman); with default options it equals ``torch.nn.RNN``."""

    def __init__(self, input_size: int, hidden_size: int, **options) -> None:
        super().__init__("rnn", input_size, hidden_size, **options)
