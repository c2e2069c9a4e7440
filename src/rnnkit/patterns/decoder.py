"""``RecurrentDecoder``: a stack of rnnkit cells run one token at a time, with optional attention.

It implements the incremental protocol of :mod:`rnnkit.decoding`: ``init_state(...)`` once per
source, then ``step(tokens, state) -> (log_probs, state)``. Teacher forcing (:meth:`forward`)
calls the very same step for every position, so the step-by-step decode and the teacher-forced
forward give identical results; a decoder whose steps depend on earlier steps only through its
cells' states (no input feeding, no Bahdanau attention) instead runs each layer over the whole
target at once, and is tested equal to that step loop.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..cells import make_cell, resolve_cell_class
from ..cells.base import RecurrentCell
from ..cells.lstm import LSTMCell
from ..layers.dropout import dropout
from ..unroll.engine import fast_unroll
from ..unroll.probes import current_observer
from .attention import ATTENTION_KINDS, make_attention
from .bridge import Bridge


class RecurrentDecoder(nn.Module):
    r"""A conditional language model :math:`p(y_t \mid y_{<t}, x)` over ``vocab_size`` tokens.

    One step, with :math:`e_t` the embedding of the previous token :math:`y_{t-1}`:

    * no attention (the lecture's encoder-decoder, Cho et al. 2014; Sutskever et al. 2014):
      :math:`h_t = \mathrm{RNN}([e_t; c], h_{t-1})` (``c`` only with ``feed_context=True``),
      :math:`o_t = h_t`;
    * "bahdanau": :math:`a_t = \mathrm{attn}(h_{t-1}, M)`, :math:`h_t = \mathrm{RNN}([e_t; a_t],
      h_{t-1})`, :math:`o_t = \tanh(W_c [a_t; h_t])`;
    * "luong" / "luong_dot" (with input feeding): :math:`h_t = \mathrm{RNN}([e_t; o_{t-1}],
      h_{t-1})`, :math:`a_t = \mathrm{attn}(h_t, M)`, :math:`o_t = \tanh(W_c [a_t; h_t])`;
      without input feeding :math:`h_t = \mathrm{RNN}(e_t, h_{t-1})`, and teacher forcing runs
      all steps at once;

    then :math:`p(y_t \mid \cdot) = \mathrm{softmax}(W_o o_t + b_o)`. :math:`h` is the top layer's
    state of ``num_layers`` stacked cells; :math:`M` is the memory (encoder outputs, image regions)
    and :math:`c` a context vector, which also initialises every layer through a :class:`Bridge`.

    Args:
        vocab_size, embed_dim, hidden_size: target vocabulary, embedding and cell sizes.
        cell: "lstm", "gru", "rnn", "leaky" or a cell class; ``**cell_options`` go to the cell.
        num_layers: stacked cells.
        attention: None, "bahdanau", "luong" (general score), "luong_general" or "luong_dot".
        memory_size: feature size of the memory (required with attention).
        context_size: size of the context vector c (enables the bridge); None: zero initial state.
        feed_context: also feed c to every step.
        input_feeding: Luong's input feeding of :math:`o_{t-1}` (Luong attention only).
        dropout: on embeddings, between layers and before the output layer (training only).
        tie_embeddings: share the output matrix with the embedding (needs
            ``embed_dim == hidden_size``, Press & Wolf 2017).
        pad_id: padding index of the embedding (its row stays zero, unless ``tie_embeddings``: the
            output layer, which shares it, trains it as the logit of padding).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        cell="lstm",
        num_layers: int = 1,
        attention: str | None = None,
        memory_size: int | None = None,
        context_size: int | None = None,
        feed_context: bool = False,
        input_feeding: bool = True,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
        pad_id: int | None = None,
        **cell_options,
    ) -> None:
        super().__init__()
        if attention is not None and attention not in ATTENTION_KINDS:
            raise ValueError(
                f"attention must be None or one of {ATTENTION_KINDS}, got {attention!r}"
            )
        if attention is not None and memory_size is None:
            raise ValueError(f"attention={attention!r} needs memory_size (the memory's features)")
        if feed_context and context_size is None:
            raise ValueError("feed_context=True needs context_size (the context vector's size)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.context_size, self.memory_size = context_size, memory_size
        self.num_layers = num_layers
        self.attention_kind = attention
        self.feed_context = feed_context
        self.input_feeding = input_feeding and attention is not None and attention != "bahdanau"
        self.dropout = dropout

        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        input_size = embed_dim
        input_size += context_size if feed_context else 0
        input_size += memory_size if attention == "bahdanau" else 0
        input_size += hidden_size if self.input_feeding else 0
        self.cells = nn.ModuleList(
            make_cell(cell, input_size if layer == 0 else hidden_size, hidden_size, **cell_options)
            for layer in range(num_layers)
        )
        is_lstm = issubclass(resolve_cell_class(cell), LSTMCell)
        self.bridge = (
            None if context_size is None else Bridge(context_size, hidden_size, num_layers, is_lstm)
        )
        if attention is not None:
            self.attention = make_attention(attention, hidden_size, memory_size)
            self.combine = nn.Linear(memory_size + hidden_size, hidden_size, bias=False)
        self.out = nn.Linear(hidden_size, vocab_size)
        if tie_embeddings:
            if embed_dim != hidden_size:
                raise ValueError(
                    f"tie_embeddings needs embed_dim == hidden_size, got {embed_dim} and "
                    f"{hidden_size}"
                )
            self.out.weight = self.embedding.weight

    # -- state ------------------------------------------------------------------------------------
    def init_state(
        self,
        batch_size: int | None = None,
        context: Tensor | None = None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
    ) -> dict:
        """The state before the first token, as a dict of batch-first tensors.

        ``context (B, C)`` initialises the cells through the bridge (zeros without one) and is fed
        to every step with ``feed_context``; ``memory (B, S, M)`` and its ``memory_mask (B, S)``
        (True at real positions) are what attention reads. Keys are projected here, once.
        """
        for name, given, needed in (
            ("context", context, self.bridge is not None),
            ("memory", memory, self.attention_kind is not None),
        ):
            if needed and given is None:
                raise ValueError(f"RecurrentDecoder.init_state: this decoder needs {name}")
        _check_features("context", context, 2, self.context_size)
        _check_features("memory", memory, 3, self.memory_size)
        reference = context if context is not None else memory
        if memory is not None and memory_mask is not None and memory_mask.shape != memory.shape[:2]:
            raise ValueError(
                f"RecurrentDecoder.init_state: memory_mask must have shape "
                f"{tuple(memory.shape[:2])}, got {tuple(memory_mask.shape)}"
            )
        if batch_size is None:
            if reference is None:
                raise ValueError("RecurrentDecoder.init_state: give batch_size, context or memory")
            batch_size = reference.shape[0]
        device = None if reference is None else reference.device
        dtype = None if reference is None else reference.dtype
        if self.bridge is not None:
            cells = self.bridge(context)
        else:
            cells = tuple(c.initial_state(batch_size, device, dtype) for c in self.cells)
        state = {"cells": cells}
        if self.feed_context:
            state["context"] = context
        if self.attention_kind is not None:
            state["memory"] = memory
            state["keys"] = self.attention.prepare(memory)
            if memory_mask is not None:
                state["mask"] = memory_mask.to(memory.device, torch.bool)
        if self.input_feeding:
            state["feed"] = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        return state

    # -- one step ---------------------------------------------------------------------------------
    def step_logits(
        self, tokens: Tensor, state: dict, t: int | None = None
    ) -> tuple[Tensor, Tensor | None, dict]:
        """One step from the previous tokens ``(B,)``: ``(logits (B, V), attention weights (B, S)
        or None, new state)``. ``t``: the step's index in teacher forcing, which lets
        :func:`~rnnkit.diagnostics.gradient_flow` see the cells' states as the engine shows them."""
        observer = current_observer() if t is not None else None
        parts = [self._drop(self.embedding(tokens))]
        if self.feed_context:
            parts.append(state["context"])
        weights = None
        if self.attention_kind == "bahdanau":  # attend with the previous state, then update
            query = RecurrentCell.output_of(state["cells"][-1])
            attended, weights = self._attend(query, state)
            parts.append(attended)
        if self.input_feeding:
            parts.append(state["feed"])
        x = torch.cat(parts, dim=-1)
        new_cells = []
        for layer, (cell, cell_state) in enumerate(zip(self.cells, state["cells"], strict=True)):
            y, cell_state = cell.step(cell.project_input(x), cell_state)
            if observer is not None:
                cell_state = observer(cell, t, cell_state)
                y = cell.output_of(cell_state)
            new_cells.append(cell_state)
            x = self._drop(y) if layer < self.num_layers - 1 else y
        h = x
        if self.attention_kind is not None:
            if self.attention_kind != "bahdanau":  # Luong: attend with the new state
                attended, weights = self._attend(h, state)
            h = self._attentional(attended, h)
        state = {**state, "cells": tuple(new_cells)}
        if self.input_feeding:
            state["feed"] = h
        return self.out(self._drop(h)), weights, state

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        """The incremental protocol: ``(log_probs (B, V), state)``."""
        logits, _, state = self.step_logits(tokens, state)
        return F.log_softmax(logits, dim=-1), state

    # -- teacher forcing --------------------------------------------------------------------------
    def forward(
        self,
        tgt_in: Tensor,
        state: dict,
        return_attention: bool = False,
        sampling_prob: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Logits ``(B, T, V)`` for the inputs ``tgt_in (B, T)`` (teacher forcing).

        ``sampling_prob`` > 0 is scheduled sampling (Bengio et al. 2015), in training mode only:
        at each step after the first, each row's input is, with that probability, a token drawn
        from the model's own previous distribution instead of the gold one (no gradient flows
        through the draw). With ``return_attention=True`` also the weights ``(B, T, S)``.
        """
        if not 0.0 <= sampling_prob <= 1.0:
            raise ValueError(f"sampling_prob must be in [0, 1], got {sampling_prob!r}")
        scheduled = sampling_prob > 0 and self.training
        if return_attention and self.attention_kind is None:
            raise ValueError("return_attention=True needs a decoder with attention")
        if not scheduled and self.all_steps_at_once:
            logits, weights = self._forward_all_steps(tgt_in, state)
            return (logits, weights) if return_attention else logits
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            tokens = tgt_in[:, t]
            if scheduled and t > 0:
                probs = logits[-1].detach().softmax(dim=-1)
                drawn = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                coin = torch.rand(tokens.shape, device=tokens.device, generator=generator)
                tokens = torch.where(coin < sampling_prob, drawn, tokens)
            step_logits, step_weights, state = self.step_logits(tokens, state, t)
            logits.append(step_logits)
            weights.append(step_weights)
        logits = torch.stack(logits, dim=1)
        return (logits, torch.stack(weights, dim=1)) if return_attention else logits

    @property
    def all_steps_at_once(self) -> bool:
        """Whether teacher forcing can run each layer over the whole target in one call.

        With gold inputs, a step needs nothing computed at earlier steps except the cells' own
        states, unless Bahdanau attention (its query is the previous state) or input feeding
        (the previous attentional output) enters the cell's input.
        """
        return not self.input_feeding and self.attention_kind != "bahdanau"

    def _forward_all_steps(self, tgt_in: Tensor, state: dict) -> tuple[Tensor, Tensor | None]:
        """Teacher forcing with each layer unrolled on the fastest path (fused kernel or engine)
        and attention for all steps in two batched products: the same function as the step
        loop (tested), faster to train (``python -m benchmarks.seq2seq``)."""
        steps = tgt_in.shape[1]
        parts = [self._drop(self.embedding(tgt_in))]
        if self.feed_context:
            parts.append(state["context"].unsqueeze(1).expand(-1, steps, -1))
        x = torch.cat(parts, dim=-1)
        for layer, (cell, cell_state) in enumerate(zip(self.cells, state["cells"], strict=True)):
            y, _ = fast_unroll(cell, x, None, cell_state)
            x = self._drop(y) if layer < self.num_layers - 1 else y
        h, weights = x, None
        if self.attention_kind is not None:
            attended, weights = self.attention.attend_all(
                h, state["keys"], state["memory"], state.get("mask")
            )
            h = self._attentional(attended, h)
        return self.out(self._drop(h)), weights

    # -- helpers ----------------------------------------------------------------------------------
    def _attentional(self, attended: Tensor, h: Tensor) -> Tensor:
        """The attentional hidden state ``tanh(W_c [a; h])``, for one step or for all."""
        return torch.tanh(self.combine(torch.cat([attended, h], dim=-1)))

    def _attend(self, query: Tensor, state: dict) -> tuple[Tensor, Tensor]:
        return self.attention(query, state["keys"], state["memory"], state.get("mask"))

    def _drop(self, x: Tensor) -> Tensor:
        return dropout(x, self.dropout, self.training)


def _check_features(name: str, value: Tensor | None, dims: int, size: int | None) -> None:
    if value is None or size is None:
        return
    if value.dim() != dims or value.shape[-1] != size:
        layout = "(B, C)" if dims == 2 else "(B, S, M)"
        raise ValueError(
            f"RecurrentDecoder.init_state: {name} must have shape {layout} with {size} features, "
            f"got {tuple(value.shape)}"
        )
