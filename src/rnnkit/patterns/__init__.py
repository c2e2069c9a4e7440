"""Tier 4: the lecture's patterns built on any recurrent layer.

Acceptor (sequence -> label), SequenceEncoder (sequence -> vector), Transducer (sequence ->
aligned outputs, optional CRF), Seq2Seq / EncoderDecoder (sequence -> sequence, context vector or
attention), ConditionedGenerator (any context -> sequence) and Recursive (trees).
"""

from .attention import BahdanauAttention, LuongAttention, make_attention, masked_softmax
from .bridge import Bridge
from .decoder import RecurrentDecoder
from .generation import Encoding
from .reader import SequenceReader
from .seq2seq import EncoderDecoder, RecurrentEncoder, Seq2Seq

__all__ = [
    "BahdanauAttention",
    "Bridge",
    "EncoderDecoder",
    "Encoding",
    "LuongAttention",
    "RecurrentDecoder",
    "RecurrentEncoder",
    "Seq2Seq",
    "SequenceReader",
    "make_attention",
    "masked_softmax",
]
