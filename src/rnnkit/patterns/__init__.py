"""Tier 4: the lecture's patterns built on any recurrent layer.

Acceptor (sequence -> label), SequenceEncoder (sequence -> vector), Transducer (sequence ->
aligned outputs, optional CRF), Seq2Seq / EncoderDecoder (sequence -> sequence, context vector or
attention), ConditionedGenerator (any context -> sequence), Ensemble (generators decoded together)
and Recursive (trees).
"""

from .attention import BahdanauAttention, LuongAttention, make_attention, masked_softmax
from .bridge import Bridge
from .conditioned import ConditionedGenerator
from .crf import LinearChainCRF
from .decoder import RecurrentDecoder
from .encoder import Acceptor, SequenceEncoder
from .ensemble import Ensemble
from .generation import Encoding
from .pooling import POOLINGS, Pooling
from .reader import SequenceReader
from .recursive import Recursive, TreeStates
from .seq2seq import EncoderDecoder, RecurrentEncoder, Seq2Seq
from .transducer import Transducer
from .tree import Tree, TreeBatch
from .tree_cells import ChildSumTreeLSTMCell, NaryTreeLSTMCell, RecursiveRNNCell

__all__ = [
    "POOLINGS",
    "Acceptor",
    "BahdanauAttention",
    "Bridge",
    "ChildSumTreeLSTMCell",
    "ConditionedGenerator",
    "EncoderDecoder",
    "Encoding",
    "Ensemble",
    "LinearChainCRF",
    "LuongAttention",
    "NaryTreeLSTMCell",
    "Pooling",
    "RecurrentDecoder",
    "RecurrentEncoder",
    "Recursive",
    "RecursiveRNNCell",
    "Seq2Seq",
    "SequenceEncoder",
    "SequenceReader",
    "Transducer",
    "Tree",
    "TreeBatch",
    "TreeStates",
    "make_attention",
    "masked_softmax",
]
