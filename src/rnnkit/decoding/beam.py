"""Batched beam search over any incremental decoder."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from .state import (
    DecoderState,
    StepFn,
    check_max_len,
    check_special_ids,
    map_state,
    repeat_state,
    start_tokens,
)


def gnmt_length_penalty(length: int | Tensor, alpha: float) -> float | Tensor:
    r"""Wu et al. (2016)'s length penalty :math:`lp(|Y|) = ((5 + |Y|) / 6)^\alpha`.

    A hypothesis is ranked by :math:`\log P(Y \mid X) / lp(|Y|)`. ``alpha = 0`` gives ``lp = 1``:
    plain cumulative log-probability, which favours short outputs; ``alpha`` ~ 0.6-1 counters it.
    """
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(
    step: StepFn,
    state: DecoderState,
    *,
    batch_size: int,
    beam_size: int,
    bos_id: int,
    eos_id: int,
    pad_id: int,
    max_len: int,
    length_penalty: float = 0.0,
    device: torch.device | None = None,
    return_scores: bool = False,
    nbest: int | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Beam search: keep the ``beam_size`` best unfinished hypotheses of every row by cumulative
    log-probability :math:`\sum_t \log p(y_t \mid y_{<t}, x)`, batched over rows and beams.

    Each step scores every extension of every live hypothesis (one decoder call on ``B * k``
    rows), keeps the 2k best candidates, finalises the EOS candidates among the k best (and, at
    ``max_len``, every candidate among the k best: a hypothesis that never ends is cut there) and
    continues with the k best non-EOS candidates. The decoder state is reordered as
    :func:`~rnnkit.decoding.state.reorder_state` does, so no step recomputes a prefix; tensors the
    decoder hands back untouched (an encoder memory) are left as they are (:class:`_Untouched`).

    Finished hypotheses are ranked by :math:`\log P / lp(|Y|)`, ``lp`` the GNMT length penalty
    (:func:`gnmt_length_penalty`, ``alpha = length_penalty``; 0 means none), with ``|Y|`` counting
    the EOS token. A row stops as soon as its best finished hypothesis can no longer be beaten:
    log-probabilities only fall as a hypothesis grows, so a live hypothesis with cumulative score
    :math:`s` can reach at best :math:`s / lp(\text{max\_len})`. With ``alpha = 0`` that means: stop
    when the row's best hypothesis has ended. The search ends when every row has stopped.

    With ``beam_size=1`` and no length penalty this is greedy decoding (exactly, but for tokens of
    bit-identical log-probability, which ``topk`` and ``argmax`` may break differently). A row's
    result does not depend on the other rows of the batch.

    Returns ``(B, L)`` tokens (after BOS, EOS included, then ``pad_id``; ``L <= max_len`` the
    longest row), and with ``return_scores=True`` also the ``(B,)`` ranking scores of the returned
    hypotheses.

    With ``nbest=n`` (at most ``beam_size``) every row keeps its ``n`` best finished hypotheses
    instead of one, and stops once the n-th of them can no longer be beaten: tokens ``(B, n, L)``
    and scores ``(B, n)``, best first. ``nbest=1`` gives the same hypothesis as the default, with
    that extra dimension.
    """
    check_max_len(max_len)
    check_special_ids(None, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id)
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive int, got {beam_size!r}")
    if length_penalty < 0:
        raise ValueError(f"length_penalty (GNMT alpha) must be >= 0, got {length_penalty}")
    if nbest is not None and (
        isinstance(nbest, bool) or not isinstance(nbest, int) or not 1 <= nbest <= beam_size
    ):
        raise ValueError(f"nbest must be an int from 1 to beam_size={beam_size}, got {nbest!r}")
    rows, k, n = batch_size, beam_size, nbest or 1
    state = repeat_state(state, k)
    untouched = _Untouched(state)
    tokens = start_tokens(rows * k, bos_id, device)
    # Only beam 0 is live at the start: the other k-1 copies would only duplicate its extensions.
    scores = torch.full((rows, k), float("-inf"), device=device)
    scores[:, 0] = 0.0
    history = torch.empty(rows, k, 0, dtype=torch.long, device=device)
    # The n best finished hypotheses of each row, best first.
    best_score = torch.full((rows, n), float("-inf"), device=device)
    best_tokens = torch.full((rows, n, max_len), pad_id, dtype=torch.long, device=device)
    best_len = torch.zeros(rows, n, dtype=torch.long, device=device)
    stopped = torch.zeros(rows, dtype=torch.bool, device=device)
    row_offset = torch.arange(rows, device=device).unsqueeze(1) * k
    bound_lp = gnmt_length_penalty(max_len, length_penalty)

    for t in range(max_len):
        log_probs, state = step(tokens, state)
        vocab = log_probs.shape[-1]
        candidates = (scores.unsqueeze(2) + log_probs.view(rows, k, vocab).float()).view(rows, -1)
        top_scores, top_index = candidates.topk(min(2 * k, k * vocab), dim=1)
        parent, token = top_index // vocab, top_index % vocab
        rank = torch.arange(top_scores.shape[1], device=device).unsqueeze(0)
        is_eos = token == eos_id
        final = (rank < k) if t == max_len - 1 else (is_eos & (rank < k))

        # The hypotheses finalised at this step join the row's n best if they beat one of them.
        ranked = top_scores / gnmt_length_penalty(t + 1, length_penalty)
        ranked = ranked.masked_fill(~final | stopped.unsqueeze(1), float("-inf"))
        if bool((ranked > best_score[:, -1:]).any()):
            prefix = history.gather(1, parent.unsqueeze(2).expand(-1, -1, t))  # (B, 2k, t)
            finished = torch.cat([prefix, token.unsqueeze(2)], dim=2)
            finished = F.pad(finished, (0, max_len - t - 1), value=pad_id)
            best_score, best_tokens, best_len = _n_best(
                n, (best_score, best_tokens, best_len),
                (ranked, finished, torch.full_like(token, t + 1)),
            )  # fmt: skip

        # Continue with the k best candidates that did not end (EOS candidates sort last).
        keep = (rank + is_eos.long() * top_scores.shape[1]).argsort(dim=1)[:, :k]
        scores = top_scores.gather(1, keep)
        parent = parent.gather(1, keep)
        token = token.gather(1, keep)
        history = torch.cat(
            [history.gather(1, parent.unsqueeze(2).expand(-1, -1, t)), token.unsqueeze(2)], dim=2
        )
        stopped = stopped | (best_score[:, -1] >= scores.max(dim=1).values / bound_lp)
        if bool(stopped.all()) or t == max_len - 1:
            break
        state = untouched.reorder(state, (row_offset + parent).view(-1))
        tokens = token.view(-1)

    result = best_tokens[:, :, : int(best_len.max())]
    if nbest is None:
        result, best_score = result[:, 0], best_score[:, 0]
    return (result, best_score) if return_scores else result


def _n_best(
    n: int, kept: tuple[Tensor, Tensor, Tensor], new: tuple[Tensor, Tensor, Tensor]
) -> tuple[Tensor, Tensor, Tensor]:
    """The ``n`` best of the kept and new finished hypotheses, each given as (scores ``(B, m)``,
    tokens ``(B, m, max_len)``, lengths ``(B, m)``). The sort is stable and the kept come first,
    so a new hypothesis only displaces one it beats (a tie keeps the earlier, shorter one)."""
    scores, tokens, lengths = (torch.cat(pair, dim=1) for pair in zip(kept, new, strict=True))
    order = scores.sort(dim=1, descending=True, stable=True).indices[:, :n]
    return (
        scores.gather(1, order),
        tokens.gather(1, order.unsqueeze(2).expand(-1, -1, tokens.shape[2])),
        lengths.gather(1, order),
    )


class _Untouched:
    """Reorders a beam state, skipping the tensors that no reordering can change.

    Right after :func:`~rnnkit.decoding.state.repeat_state` every tensor of the state holds k equal
    copies of each row, and beam search only moves rows among one source row's own beams, which
    leaves such a tensor as it is. A tensor the decoder hands back as it got it (the same object,
    not written in place) keeps that property for the whole search: the encoder memory, its
    attention keys, the source mask. Copying those at every step was 2/3 of the search's time
    on a batch of 500 words (``index_select`` of the memory).

    Tensors made under ``torch.inference_mode()`` have no version counter, so an in-place write
    into one cannot be seen: those are reordered at every step, as any changed tensor is.
    """

    def __init__(self, state: DecoderState) -> None:
        # The tensors themselves are kept, so that their ids stay theirs; the version counter
        # tells whether the decoder wrote into one in place.
        self.start: dict[int, tuple[Tensor, int]] = {}
        map_state(self._remember, state)

    def _remember(self, tensor: Tensor) -> Tensor:
        if not tensor.is_inference():
            self.start[id(tensor)] = (tensor, tensor._version)
        return tensor

    def _unchanged(self, tensor: Tensor) -> bool:
        start = self.start.get(id(tensor))
        return start is not None and start[0] is tensor and start[1] == tensor._version

    def reorder(self, state: DecoderState, index: Tensor) -> DecoderState:
        """Rows ``index`` of every tensor of ``state`` that the decoder changed since the start."""
        return map_state(
            lambda t: t if self._unchanged(t) else t.index_select(0, index.to(t.device)), state
        )
