"""``Recurrent``: stacked, optionally bidirectional, recurrent layers over any cell."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ..cells import make_cell
from ..cells.base import RecurrentCell, State, check_state_like
from ..unroll import can_fuse, fused_layer
from ..unroll.engine import engine_beats_fused, fast_unroll
from ..unroll.probes import current_observer
from ..unroll.sequences import check_lengths, mask_from_lengths, repack, unpack
from .dropout import dropout
from .merge import MERGES, check_merge, merged_size
from .torch_interop import copy_from_torch, layer_config_from_torch, to_torch


class Recurrent(nn.Module):
    """A stack of recurrent layers over any cell, each optionally bidirectional.

    Args:
        kind: "lstm", "gru", "rnn", "leaky", or a :class:`~rnnkit.cells.RecurrentCell` subclass.
        input_size, hidden_size: feature sizes of the input and of each direction's state.
        num_layers: layers stacked; layer l+1 reads layer l's output (both directions concatenated).
        bidirectional: add a backward direction that starts at each sequence's own last step.
        merge: how the last layer's two directions form the output: "concat", "sum", "mul", "ave".
        dropout: dropout on the outputs of every layer but the last (training only).
        recurrent_dropout: variational dropout on the state entering the recurrent product: one mask
            per sequence, reused at every step (Gal & Ghahramani 2016). Training only.
        zoneout: probability that a unit keeps its previous value (Krueger et al. 2017); its
            expectation is used in evaluation.
        residual: add each layer's input to its output, ``y = F(x) + x``, through a linear
            projection where the sizes differ (He et al. 2016; Wu et al. 2016 for RNNs).
        dilation: skip connections through time: step t reads the state of step t - d. An int for
            every layer or a list with one per layer (Chang et al. 2017).
        batch_first: input and output as (batch, time, features) (default) or (time, batch, ...).
        learn_init: learn the initial state instead of starting from zeros.
        **cell_options: passed to the cell, e.g. ``layer_norm=True``, ``nonlinearity="relu"``.

    ``forward(x, lengths=None, state=None)`` returns ``(output, final_state)``: output of shape
    ``(B, T, output_size)``, zero past each length; final state of shape
    ``(num_layers * num_directions, B, hidden_size)``, a tuple ``(h, c)`` for the LSTM, taken at
    each sequence's own length. ``x`` may be a PackedSequence; the output is then packed too.
    """

    def __init__(
        self,
        kind: str | type[RecurrentCell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        merge: str = "concat",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        residual: bool = False,
        dilation: int | Sequence[int] = 1,
        batch_first: bool = True,
        learn_init: bool = False,
        **cell_options,
    ) -> None:
        super().__init__()
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
        for name, p in (
            ("dropout", dropout),
            ("recurrent_dropout", recurrent_dropout),
            ("zoneout", zoneout),
        ):
            if isinstance(p, bool) or not isinstance(p, (int, float)):  # "0.5" would not compare
                raise TypeError(f"{name} must be a float in [0, 1), got {p!r}")
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")
        self.kind = kind.lower() if isinstance(kind, str) else kind  # "LSTM" is accepted too
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.bidirectional = bidirectional
        self.merge = check_merge(merge)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.zoneout = float(zoneout)
        self.residual = residual
        self.dilations = _per_layer_dilations(dilation, num_layers)
        self.batch_first = batch_first
        self.cell_options = dict(cell_options)

        between = self.num_directions * hidden_size  # directions are concatenated between layers
        self.cells = nn.ModuleList(
            make_cell(kind, input_size if layer == 0 else between, hidden_size, **cell_options)
            for layer in range(num_layers)
            for _ in range(self.num_directions)
        )
        self.output_size = merged_size(merge, hidden_size) if bidirectional else hidden_size
        if residual:
            self.skips = nn.ModuleList(
                _projection(input_size if layer == 0 else between, self._layer_output_size(layer))
                for layer in range(num_layers)
            )
        if learn_init:
            template = self.cells[0].initial_state(num_layers * self.num_directions)
            parts = template if isinstance(template, tuple) else (template,)
            self.initial = nn.ParameterList(nn.Parameter(torch.zeros_like(p)) for p in parts)
        self.learn_init = learn_init

    # -- forward ----------------------------------------------------------------------------------
    def forward(
        self, x: Tensor | PackedSequence, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        packed = x if isinstance(x, PackedSequence) else None
        if packed is not None:
            if lengths is not None:
                raise ValueError("Recurrent: give lengths or a PackedSequence, not both")
            x, lengths = unpack(x)
            x = self._check_input(x)  # batch-first once unpacked, so only features/dtype can fail
        else:
            x = self._check_input(x)
            if not self.batch_first:
                x = x.transpose(0, 1)
        batch, steps, _ = x.shape
        if lengths is not None:
            lengths = check_lengths(lengths, batch, steps, owner="Recurrent").to(x.device)
            if torch.is_grad_enabled():
                # Zero the padding: the loops also step through it, and inf or nan there, though
                # never in the outputs or final states, would reach the gradients as 0 * nan.
                x = x.masked_fill(~mask_from_lengths(lengths, steps).unsqueeze(2), 0.0)
        states = self._split_state(state, batch, x)

        finals: list[State] = []
        layer_input = x
        for layer in range(self.num_layers):
            directions = slice(layer * self.num_directions, (layer + 1) * self.num_directions)
            out, layer_finals = self._run_layer(layer, layer_input, lengths, states[directions])
            finals += layer_finals
            if self.residual:
                out = out + self.skips[layer](layer_input)
            if layer < self.num_layers - 1:
                out = dropout(out, self.dropout, self.training)
            layer_input = out

        out = layer_input
        if self.residual and lengths is not None:  # the skip added input at padded steps
            out = out.masked_fill(~mask_from_lengths(lengths, steps).unsqueeze(2), 0.0)
        final_state = _stack_states(finals)
        if packed is not None:
            return repack(out, lengths, packed), final_state
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, final_state

    def _run_layer(self, layer, x, lengths, states) -> tuple[Tensor, list[State]]:
        """One layer, all its directions, merged (concatenated below the last layer)."""
        cells = list(self.cells[layer * self.num_directions : (layer + 1) * self.num_directions])
        merge = self.merge if layer == self.num_layers - 1 else "concat"
        if self._fusable(cells, layer) and not engine_beats_fused(cells, x, lengths):
            out, finals = fused_layer(cells, x, lengths, states)
            if self.bidirectional and merge != "concat":
                out = MERGES[merge](*out.chunk(2, dim=-1))
            return out, finals
        outs, finals = [], []
        for direction, (cell, state) in enumerate(zip(cells, states, strict=True)):
            out, final = fast_unroll(
                cell,
                x,
                lengths,
                state,
                reverse=direction == 1,
                recurrent_mask=self._recurrent_mask(x),
                zoneout=self.zoneout,
                training=self.training,
                dilation=self.dilations[layer],
            )
            outs.append(out)
            finals.append(final)
        return (MERGES[merge](*outs) if self.bidirectional else outs[0]), finals

    def _fusable(self, cells, layer) -> bool:
        return (
            can_fuse(cells)
            and not self.zoneout
            and not (self.recurrent_dropout and self.training)
            and self.dilations[layer] == 1
            and current_observer() is None
        )

    def _recurrent_mask(self, x: Tensor) -> Tensor | None:
        """One dropout mask per sequence for the state entering the recurrent product."""
        if not (self.recurrent_dropout and self.training):
            return None
        keep = 1.0 - self.recurrent_dropout
        shape = (x.shape[0], self.hidden_size)
        return torch.bernoulli(x.new_full(shape, keep)) / keep

    def _layer_output_size(self, layer: int) -> int:
        if layer == self.num_layers - 1:
            return self.output_size
        return self.num_directions * self.hidden_size

    # -- conversion to and from torch.nn -----------------------------------------------------------
    @classmethod
    def from_torch(cls, module: nn.RNNBase) -> Recurrent:
        """A layer with the configuration and an exact copy of the weights of a torch.nn.LSTM,
        GRU or RNN (``batch_first`` included). On a shorthand (``rk.LSTM``) the module must be of
        its kind."""
        kind, options = layer_config_from_torch(module)
        if cls is Recurrent:
            layer = cls(kind, **options)
        else:
            layer = cls(**options)
            if layer.kind != kind:
                raise TypeError(
                    f"{cls.__name__}.from_torch expects torch.nn.{layer.kind.upper()}, "
                    f"got {type(module).__name__}"
                )
        layer = layer.to(device=module.weight_ih_l0.device, dtype=module.weight_ih_l0.dtype)
        copy_from_torch(layer, module)
        return layer

    def to_torch(self) -> nn.RNNBase:
        """The equivalent torch.nn.LSTM, GRU or RNN with a copy of the weights (default options)."""
        return to_torch(self)

    # -- state ------------------------------------------------------------------------------------
    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        """The state a sequence starts from: zeros, or the learned one (``learn_init=True``)."""
        count = self.num_layers * self.num_directions
        if self.learn_init:
            parts = tuple(p.unsqueeze(1).expand(-1, batch_size, -1) for p in self.initial)
            return parts if len(parts) > 1 else parts[0]
        single = self.cells[0].initial_state(batch_size, device, dtype)
        if isinstance(single, tuple):
            return tuple(s.new_zeros(count, *s.shape) for s in single)
        return single.new_zeros(count, *single.shape)

    def _split_state(self, state, batch: int, x: Tensor) -> list[State]:
        """A PyTorch-layout state ``(L*D, B, H)`` (or a tuple of them) as one state per cell."""
        if state is None:
            state = self.initial_state(batch, x.device, x.dtype)
        else:
            expected = self.initial_state(batch, "meta", x.dtype)
            check_state_like(type(self).__name__, "state", state, expected)
        if isinstance(state, tuple):
            return list(zip(*(part.unbind(0) for part in state), strict=True))
        return list(state.unbind(0))

    # -- checks -----------------------------------------------------------------------------------
    def _check_input(self, x) -> Tensor:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{name}: x must be a Tensor or a PackedSequence, got {type(x).__name__}"
            )
        layout = "(batch, time, features)" if self.batch_first else "(time, batch, features)"
        if x.dim() != 3:
            raise ValueError(
                f"{name}: x must be 3-D {layout} with batch_first={self.batch_first}, "
                f"got shape {tuple(x.shape)}"
            )
        if x.shape[2] != self.input_size:
            raise ValueError(
                f"{name}: x has {x.shape[2]} features, expected input_size={self.input_size}"
            )
        if not x.is_floating_point():
            raise TypeError(f"{name}: x must be a floating-point tensor, got {x.dtype}")
        return x

    def extra_repr(self) -> str:
        options = {
            "num_layers": (self.num_layers, 1),
            "bidirectional": (self.bidirectional, False),
            "merge": (self.merge, "concat"),
            "dropout": (self.dropout, 0.0),
            "recurrent_dropout": (self.recurrent_dropout, 0.0),
            "zoneout": (self.zoneout, 0.0),
            "residual": (self.residual, False),
            "batch_first": (self.batch_first, True),
            "learn_init": (self.learn_init, False),
        }
        shown = [f"{k}={v!r}" for k, (v, default) in options.items() if v != default]
        if any(d != 1 for d in self.dilations):
            shown.append(f"dilation={self.dilations}")
        return ", ".join([f"{self.input_size}, {self.hidden_size}", *shown])


def _per_layer_dilations(dilation, num_layers: int) -> list[int]:
    # anything but a list or tuple (a float, a bool) is checked as the dilation of every layer
    dilations = list(dilation) if isinstance(dilation, (list, tuple)) else [dilation] * num_layers
    if len(dilations) != num_layers or any(
        isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dilations
    ):
        raise ValueError(
            f"dilation must be a positive int or a list of {num_layers} positive ints "
            f"(one per layer), got {dilation!r}"
        )
    return dilations


def _projection(in_size: int, out_size: int) -> nn.Module:
    return nn.Identity() if in_size == out_size else nn.Linear(in_size, out_size, bias=False)


def _stack_states(states: list[State]) -> State:
    if isinstance(states[0], tuple):
        return tuple(torch.stack(parts) for parts in zip(*states, strict=True))
    return torch.stack(states)
