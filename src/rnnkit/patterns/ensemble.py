"""An ensemble of trained generators that decodes as one model."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..decoding import AttentionWindow
from ..decoding.ensemble import ensemble_step
from .generation import GeneratorModel, check_one_output, rows_of, search


class Ensemble(nn.Module):
    """Several generators (:class:`Seq2Seq`, :class:`EncoderDecoder`,
    :class:`ConditionedGenerator`) of the same output vocabulary, searched together: at every
    step the next token's distribution is the mean of the members' (see
    :func:`~rnnkit.decoding.ensemble.ensemble_step`). The members may differ in everything
    else (sizes, cells, attention), and each reads the same input with its own encoder.

    ``generate(*inputs, max_len=50, return_attention=False, **options)`` takes what each
    member's ``generate`` takes (e.g. ``src, src_lengths``) and the same search options (beam
    size, length penalty, sampling, an attention ``window`` that each member keeps for itself,
    ``nbest``). With ``return_attention=True`` it also returns the members' attention weights for
    the chosen tokens, averaged.
    """

    def __init__(self, members: Sequence[GeneratorModel]) -> None:
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("Ensemble needs at least one member")
        for index, member in enumerate(members):
            if not isinstance(member, GeneratorModel):
                raise TypeError(
                    f"Ensemble: member {index} is a {type(member).__name__}, not a generator "
                    "(Seq2Seq, EncoderDecoder or ConditionedGenerator)"
                )
        first = members[0]
        for index, member in enumerate(members[1:], start=1):
            if member.special_ids != first.special_ids:
                raise ValueError(
                    f"Ensemble: member {index} has special ids {member.special_ids}, member 0 "
                    f"has {first.special_ids}"
                )
            sizes = [getattr(m.decoder, "vocab_size", None) for m in (first, member)]
            if sizes[0] != sizes[1]:
                raise ValueError(
                    f"Ensemble: member {index} writes a vocabulary of {sizes[1]} tokens, member "
                    f"0 one of {sizes[0]}"
                )
        self.members = nn.ModuleList(members)

    @torch.no_grad()
    def generate(
        self,
        *inputs,
        max_len: int = 50,
        return_attention: bool = False,
        window: AttentionWindow | None = None,
        **options,
    ) -> Tensor | tuple[Tensor, Tensor]:
        check_one_output(return_attention, options)
        members = list(self.members)
        encodings = [member.encode(*inputs) for member in members]
        state = tuple(
            member.initial_state(encoding)
            for member, encoding in zip(members, encodings, strict=True)
        )
        step = ensemble_step([member.step_function(window) for member in members])
        tokens = search(
            step, state, rows_of(encodings[0]), **members[0].special_ids, max_len=max_len,
            **options,
        )  # fmt: skip
        if not return_attention:
            return tokens
        weights = [
            member.attention_of(encoding, tokens, window)
            for member, encoding in zip(members, encodings, strict=True)
        ]
        return tokens, torch.stack(weights).mean(dim=0)
