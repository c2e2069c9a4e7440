"""Attention over a memory of vectors (encoder outputs, image regions, video frames).

Every attention here works in two parts, so that a decoder pays for the memory only once:

* ``prepare(memory)`` projects the memory (the keys) once per source, before decoding;
* ``forward(query, keys, memory, mask)`` scores one query per row against its memory, at each step.

Scores at padded memory positions are set to ``-inf`` before the softmax, so their weights are
exactly 0 and the weights of the real positions sum to 1.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ATTENTION_KINDS = ("bahdanau", "luong", "luong_general", "luong_dot")


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last dimension, with weight exactly 0 where ``mask`` is False."""
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1)


class BahdanauAttention(nn.Module):
    r"""Additive attention (Bahdanau, Cho & Bengio 2015).

    .. math::
        e_{s} = v^\top \tanh(W_q q + W_k m_s), \qquad
        \alpha = \mathrm{softmax}(e), \qquad c = \textstyle\sum_s \alpha_s m_s

    ``W_k m_s`` is computed once per source by :meth:`prepare`.
    """

    def __init__(self, query_size: int, memory_size: int, attention_size: int | None = None):
        super().__init__()
        attention_size = attention_size or query_size
        self.query_proj = nn.Linear(query_size, attention_size, bias=False)
        self.key_proj = nn.Linear(memory_size, attention_size)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def prepare(self, memory: Tensor) -> Tensor:
        return self.key_proj(memory)

    def forward(
        self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``query (B, Q)``, ``keys (B, S, A)``, ``memory (B, S, M)``, ``mask (B, S)`` ->
        ``(context (B, M), weights (B, S))``."""
        scores = self.v(torch.tanh(keys + self.query_proj(query).unsqueeze(1))).squeeze(2)
        weights = masked_softmax(scores, mask)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


class LuongAttention(nn.Module):
    r"""Multiplicative attention (Luong, Pham & Manning 2015).

    .. math::
        e_s = q^\top m_s \;\; (\text{"dot"}) \qquad\text{or}\qquad
        e_s = q^\top W_a m_s \;\; (\text{"general"}), \qquad
        \alpha = \mathrm{softmax}(e), \qquad c = \textstyle\sum_s \alpha_s m_s

    "dot" needs ``query_size == memory_size``. For "general", :meth:`prepare` computes
    :math:`W_a m_s` once per source.
    """

    def __init__(self, query_size: int, memory_size: int, score: str = "general"):
        super().__init__()
        if score not in ("general", "dot"):
            raise ValueError(f"LuongAttention: score must be 'general' or 'dot', got {score!r}")
        if score == "dot" and query_size != memory_size:
            raise ValueError(
                "Luong dot attention needs the decoder's hidden size == the memory's feature size "
                f"(a bidirectional encoder doubles it), got {query_size} and {memory_size}; "
                "use the general score (attention='luong')"
            )
        self.score = score
        self.key_proj = (
            nn.Linear(memory_size, query_size, bias=False) if score == "general" else None
        )

    def prepare(self, memory: Tensor) -> Tensor:
        return memory if self.key_proj is None else self.key_proj(memory)

    def forward(
        self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Same shapes as :meth:`BahdanauAttention.forward`."""
        context, weights = self.attend_all(query.unsqueeze(1), keys, memory, mask)
        return context.squeeze(1), weights.squeeze(1)

    def attend_all(
        self, queries: Tensor, keys: Tensor, memory: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Every query of a sequence at once: ``queries (B, T, Q)`` -> ``(context (B, T, M),
        weights (B, T, S))``. The score needs no earlier context, so a decoder without input
        feeding attends for all its target steps in two batched products."""
        scores = torch.bmm(queries, keys.transpose(1, 2))
        weights = masked_softmax(scores, None if mask is None else mask.unsqueeze(1))
        return torch.bmm(weights, memory), weights


def make_attention(kind: str, query_size: int, memory_size: int) -> nn.Module:
    """An attention module by name: "bahdanau", "luong" (= "luong_general") or "luong_dot"."""
    if kind == "bahdanau":
        return BahdanauAttention(query_size, memory_size)
    if kind in ("luong", "luong_general"):
        return LuongAttention(query_size, memory_size, "general")
    if kind == "luong_dot":
        return LuongAttention(query_size, memory_size, "dot")
    raise ValueError(f"attention must be None or one of {ATTENTION_KINDS}, got {kind!r}")
