"""A linear-chain conditional random field over per-step emission scores (Lafferty et al. 2001)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LinearChainCRF(nn.Module):
    r"""Scores a whole tag sequence instead of each tag alone.

    With emissions :math:`E_{t,y}` (the transducer's per-step scores), transitions :math:`A_{y,y'}`
    and start / end scores :math:`s, e`:

    .. math::
        \mathrm{score}(x, y) = s_{y_1} + \sum_{t=1}^{n} E_{t, y_t}
                               + \sum_{t=2}^{n} A_{y_{t-1}, y_t} + e_{y_n}, \qquad
        p(y \mid x) = \frac{\exp \mathrm{score}(x, y)}{\sum_{y'} \exp \mathrm{score}(x, y')}

    The normaliser is computed by the forward algorithm, :math:`\alpha_t(j) = E_{t,j} +
    \log\sum_i \exp(\alpha_{t-1}(i) + A_{ij})`, and the best sequence by Viterbi (the same
    recursion with max, then backtracking). Both are :math:`O(n C^2)`, batched over sequences.
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # from i (row) to j
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """Negative log-likelihood :math:`\\log Z(x) - \\mathrm{score}(x, y)`, ``(B,)``."""
        mask = self._mask(emissions, mask)
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """:math:`\\mathrm{score}(x, y)` of the given tag sequences ``(B, T)``, ``(B,)``."""
        mask = self._mask(emissions, mask)
        tags = tags.masked_fill(~mask, 0)  # padded targets may hold anything (e.g. -100)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
        moves = self.transitions[tags[:, :-1], tags[:, 1:]]
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return (
            self.start[tags[:, 0]]
            + (emitted * mask).sum(1)
            + (moves * mask[:, 1:]).sum(1)
            + self.end[last]
        )

    def log_partition(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """:math:`\\log Z(x)` by the forward algorithm, ``(B,)``."""
        mask = self._mask(emissions, mask)
        alpha = self.start + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], step, alpha)  # padding keeps the last alpha
        return torch.logsumexp(alpha + self.end, dim=1)

    def viterbi(self, emissions: Tensor, mask: Tensor | None = None, pad_value: int = -100):
        """The most likely tag sequences ``(B, T)`` (``pad_value`` past each length) and their
        scores ``(B,)``."""
        mask = self._mask(emissions, mask)
        best = self.start + emissions[:, 0]
        backpointers = []
        for t in range(1, emissions.shape[1]):
            candidates = best.unsqueeze(2) + self.transitions  # (B, from, to)
            step, pointer = candidates.max(dim=1)
            backpointers.append(pointer)
            best = torch.where(mask[:, t : t + 1], step + emissions[:, t], best)
        scores, current = (best + self.end).max(dim=1)
        lengths = mask.sum(1)
        tags = torch.full_like(mask, pad_value, dtype=torch.long)
        for t in range(emissions.shape[1] - 1, -1, -1):
            inside = t < lengths
            tags[:, t] = torch.where(inside, current, tags[:, t])
            if t > 0:  # follow the pointer only inside the sequence
                previous = backpointers[t - 1].gather(1, current.unsqueeze(1)).squeeze(1)
                current = torch.where(inside, previous, current)
        return tags, scores

    def _mask(self, emissions: Tensor, mask: Tensor | None) -> Tensor:
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(
                f"LinearChainCRF: emissions must have shape (B, T, num_tags={self.num_tags}), "
                f"got {tuple(emissions.shape)}"
            )
        if mask is None:
            return emissions.new_ones(emissions.shape[:2], dtype=torch.bool)
        return mask.to(torch.bool)
