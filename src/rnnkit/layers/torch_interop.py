"""Exact weight conversion between rnnkit layers and ``torch.nn.LSTM`` / ``GRU`` / ``RNN``."""

from __future__ import annotations

import torch
from torch import nn

TORCH_CLASSES = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

# Layer options that torch's modules do not have, with the value that means "not used".
_TORCH_LACKS = {
    "merge": "concat",
    "recurrent_dropout": 0.0,
    "zoneout": 0.0,
    "residual": False,
    "learn_init": False,
}


def _parameter_names(layer: int, direction: int, bias: bool) -> list[str]:
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
    return [name + suffix for name in names]


def layer_config_from_torch(module: nn.RNNBase) -> tuple[str, dict]:
    """The rnnkit ``(kind, keyword arguments)`` that mirror a torch recurrent module."""
    kinds = {cls: kind for kind, cls in TORCH_CLASSES.items()}
    kind = kinds.get(type(module))
    if kind is None:
        raise TypeError(
            f"from_torch expects torch.nn.LSTM, GRU or RNN, got {type(module).__name__}"
        )
    if getattr(module, "proj_size", 0):
        raise ValueError("from_torch: LSTM with proj_size > 0 has no rnnkit equivalent")
    options = dict(
        input_size=module.input_size,
        hidden_size=module.hidden_size,
        num_layers=module.num_layers,
        bidirectional=module.bidirectional,
        dropout=float(module.dropout),
        batch_first=module.batch_first,
        bias=module.bias,
    )
    if kind == "rnn":
        options["nonlinearity"] = module.nonlinearity
    return kind, options


@torch.no_grad()
def copy_from_torch(layer, module: nn.RNNBase) -> None:
    """Copy every weight of ``module`` into the cells of rnnkit ``layer`` (same configuration)."""
    for index, cell in enumerate(layer.cells):
        names = _parameter_names(*divmod(index, layer.num_directions), cell.bias)
        for target, name in zip(cell.flat_weights(), names, strict=True):
            target.copy_(getattr(module, name))


@torch.no_grad()
def to_torch(layer) -> nn.RNNBase:
    """A torch module computing exactly what ``layer`` computes, with a copy of its weights."""
    kind = layer.kind if isinstance(layer.kind, str) else None
    if kind not in TORCH_CLASSES or layer.cells[0].fused_mode is None:
        raise ValueError(
            f"to_torch: torch has no fused equivalent of this {type(layer).__name__} "
            f"(cell {type(layer.cells[0]).__name__} with options {layer.cell_options})"
        )
    for option, unused in _TORCH_LACKS.items():
        if getattr(layer, option) != unused:
            raise ValueError(f"to_torch: torch.nn.{kind.upper()} has no option {option}")
    if any(d != 1 for d in layer.dilations):
        raise ValueError(f"to_torch: torch.nn.{kind.upper()} has no option dilation")
    cell = layer.cells[0]
    extra = {"nonlinearity": cell.nonlinearity} if kind == "rnn" else {}
    module = TORCH_CLASSES[kind](
        layer.input_size,
        layer.hidden_size,
        num_layers=layer.num_layers,
        bias=cell.bias,
        batch_first=layer.batch_first,
        dropout=layer.dropout,
        bidirectional=layer.bidirectional,
        **extra,
    )
    module = module.to(device=cell.weight_ih.device, dtype=cell.weight_ih.dtype)
    for index, cell in enumerate(layer.cells):
        names = _parameter_names(*divmod(index, layer.num_directions), cell.bias)
        for source, name in zip(cell.flat_weights(), names, strict=True):
            getattr(module, name).copy_(source)
    return module
