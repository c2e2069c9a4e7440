"""Gradient flow through time: ``||dL/dh_t||`` at every step of every recurrent layer.

This is the lecture's backpropagation through time, measured instead of derived. The reference
loop offers a hook (:func:`rnnkit.unroll.observe_states`) that sees each step's new state; we
return ``state + probe`` with a zero ``probe`` that requires grad. The probe changes nothing in
the forward pass, and after differentiation its gradient is ``dL/dh_t``: the *total* derivative,
through the recurrence and through every later output, exactly what BPTT accumulates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..cells.base import RecurrentCell, State
from ..unroll import observe_states
from .spectral import named_cells, spectral_radii

LossFn = Callable[[nn.Module, Any], Tensor]


@dataclasses.dataclass
class LayerFlow:
    """The gradient flow through one cell (one layer and direction) of a model.

    Attributes:
        name: where the cell sits, e.g. ``"layer 0"`` or ``"encoder.layer 1, backward"``.
        hidden: ``||dL/dh_t||`` for each step t in processing order (a backward direction is
            processed from the last step to the first), the norm over the batch and units.
        cell: for an LSTM, ``||dL/dc_t||`` along the carried memory: the gradient that step
            t + 1 sends back into ``c_t`` (the path through ``h_t = o_t tanh(c_t)`` of the same
            step is already in ``hidden``). None for single-state cells.
        spectral_radius: the spectral radius of each recurrent block, by gate name.
    """

    name: str
    hidden: Tensor
    cell: Tensor | None
    spectral_radius: dict[str, float]

    def by_distance(self) -> Tensor:
        """``||dL/dh||`` indexed by distance from the last processed step (0 = last step)."""
        return self.hidden.flip(0)


@dataclasses.dataclass
class GradientFlow:
    """What :func:`gradient_flow` measured: one :class:`LayerFlow` per cell run, in run order."""

    loss: float
    layers: list[LayerFlow]

    def __getitem__(self, name: str) -> LayerFlow:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r}; layers: {[layer.name for layer in self.layers]}")


def last_output_loss(model: nn.Module, batch: Any) -> Tensor:
    """The default loss: the sum of the model's output at the last step.

    Its gradient starts at the end of the sequence only, so ``||dL/dh_t||`` shows how a signal
    from the end decays (or grows) with the distance travelled back in time.
    """
    out = model(batch)
    if isinstance(out, tuple):  # (outputs, state) from a Recurrent layer
        out = out[0]
    if out.dim() != 3:
        return out.sum()
    return (out[:, -1] if getattr(model, "batch_first", True) else out[-1]).sum()


def gradient_flow(model: nn.Module, batch: Any, loss_fn: LossFn | None = None) -> GradientFlow:
    """Measure ``||dL/dh_t||`` for every step t of every recurrent cell in ``model``.

    Args:
        model: any module built from rnnkit cells (a :class:`~rnnkit.Recurrent`, a pattern, a
            task's model). Its layers run on the reference loop while measured: fused kernels
            expose no per-step state.
        batch: what ``loss_fn`` needs (for the default loss: the model's input).
        loss_fn: ``loss_fn(model, batch) -> scalar``, e.g. an Objective's ``loss``. Default:
            :func:`last_output_loss`.

    Returns:
        A :class:`GradientFlow`. The model's parameter gradients are left untouched
        (``torch.autograd.grad`` differentiates the probes only).
    """
    loss_fn = loss_fn or last_output_loss
    names = named_cells(model)
    runs: list[tuple[RecurrentCell, list[State]]] = []
    current: dict[RecurrentCell, list[State]] = {}

    def observer(cell: nn.Module, t: int, state: State) -> State:
        if t == 0:  # a new run of this cell (a cell may run more than once per loss)
            current[cell] = []
            runs.append((cell, current[cell]))
        probe = _zeros_like(state)
        current[cell].append(probe)
        return _add(state, probe)

    with observe_states(observer):
        loss = loss_fn(model, batch)
    if not runs:
        raise ValueError(
            "gradient_flow: the model ran no rnnkit recurrent cell; nothing to measure"
        )
    probes = [p for _, steps in runs for state in steps for p in _parts(state)]
    grads = torch.autograd.grad(loss, probes, allow_unused=True)
    grads = iter(
        torch.zeros_like(p) if g is None else g for p, g in zip(probes, grads, strict=True)
    )

    layers = []
    for cell, steps in runs:
        # (steps, parts): one norm per step for h (and c), moved to the CPU in one transfer
        norms = torch.stack([torch.stack([next(grads).norm() for _ in _parts(s)]) for s in steps])
        norms = norms.detach().float().cpu()
        layers.append(
            LayerFlow(
                name=names.get(cell, type(cell).__name__),
                hidden=norms[:, 0],
                cell=norms[:, 1] if norms.shape[1] > 1 else None,
                spectral_radius=spectral_radii(cell),
            )
        )
    return GradientFlow(loss=loss.item(), layers=layers)


def _parts(state: State) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def _zeros_like(state: State) -> State:
    if isinstance(state, tuple):
        return tuple(_zeros_like(s) for s in state)
    return torch.zeros_like(state, requires_grad=True)


def _add(state: State, probe: State) -> State:
    if isinstance(state, tuple):
        return tuple(_add(s, p) for s, p in zip(state, probe, strict=True))
    return state + probe
