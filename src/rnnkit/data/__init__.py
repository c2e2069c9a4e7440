"""Data utilities: vocabularies, padding and bucketing, lexicon files, splits, CMUdict."""

from rnnkit.data.batching import BucketBatchSampler, pad_batch, teacher_forcing_batch
from rnnkit.data.cmudict import cmudict_path, cmudict_split, load_cmudict
from rnnkit.data.lexicon import (
    Lexicon,
    filter_words,
    lexicon_pairs,
    lower_case_words,
    parse_lexicon_lines,
    read_lexicon,
    remove_stress,
)
from rnnkit.data.splits import split_keys
from rnnkit.data.vocab import Vocab

__all__ = [
    "BucketBatchSampler",
    "Lexicon",
    "Vocab",
    "cmudict_path",
    "cmudict_split",
    "filter_words",
    "lexicon_pairs",
    "load_cmudict",
    "lower_case_words",
    "pad_batch",
    "parse_lexicon_lines",
    "read_lexicon",
    "remove_stress",
    "split_keys",
    "teacher_forcing_batch",
]
