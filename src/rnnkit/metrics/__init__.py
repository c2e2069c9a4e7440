"""Evaluation metrics: edit distance over token sequences, G2P word and phoneme error rates."""

from rnnkit.metrics.edit import edit_distance
from rnnkit.metrics.g2p import format_g2p_scores, g2p_scores

__all__ = ["edit_distance", "format_g2p_scores", "g2p_scores"]
