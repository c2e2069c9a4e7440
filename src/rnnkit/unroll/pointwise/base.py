"""The contract between the engine and a cell's pointwise maths.

The engine (``unroll/engine.py``) owns time: the loop, lengths, dilation, zoneout, recurrent dropout
and the autograd plumbing. A kernel owns one cell's maths for one step: the recurrent product(s) and
the gate equations forward, their derivatives backward, and the parameter gradients as large GEMMs
or reductions over all steps once the loop is done.

Forward and backward of a cell sit next to each other in one kernel file, so that a change to a
gate shows its derivative on the same screen. The cell's own ``step`` (tier 1) stays the readable
definition; the engine is tested against it (values, gradients, float64 gradcheck).

Shapes: ``T`` steps, ``B`` rows, ``H`` hidden units, ``G = num_gates * H``. Workspaces are
time-major ``(T, B, ...)`` so that one step is one contiguous block.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...cells.base import RecurrentCell
from .matmul import MatMul, linear


class Kernel:
    """One cell's pointwise forward and backward for the engine, bound to one call's tensors.

    Class-level hooks read a cell; an instance is made per call with the weights and the sizes.

    * ``project(cell, x)``: everything that depends on the input only, for all steps at once, as a
      time-major ``(T, B, G)`` tensor (the cell's ``project_input``, plus every recurrent bias that
      simply adds, so that the per-step product needs no bias). Differentiated by autograd.
    * ``weights(cell)``: the tensors the steps use (``W_hh`` first); the engine returns a gradient
      for each.
    * ``step``: one step forward, writing the new states into ``out``.
    * ``prepare_backward`` / ``step_backward`` / ``grads``: the backward, see each method.
    """

    num_states = 1  # 1: the state is h; 2: (h, c)
    # The attributes holding buffers that the forward fills and the backward reads. The engine
    # hands them to autograd between the two (see ``take_saved``), so that they are freed as soon
    # as the backward has run.
    saved: tuple[str, ...] = ()

    @staticmethod
    def config(cell: RecurrentCell) -> tuple:
        """The cell's static options the maths depends on (hashable)."""
        return ()

    @staticmethod
    def weights(cell: RecurrentCell) -> list[Tensor]:
        raise NotImplementedError

    @staticmethod
    def loop_norm(cell: RecurrentCell) -> tuple[Tensor, Tensor, float] | None:
        """The layer norm ``project`` ends with, as (gain, shift, eps), for a loop that applies
        it to each step's rows as it reaches them, after ``project_before_norm`` (the compiled
        loop does, sparing a pass over all steps and its buffer); None if none."""
        return None

    @staticmethod
    def project_before_norm(cell: RecurrentCell, x: Tensor) -> Tensor:
        """``project`` without the layer norm of ``loop_norm``."""
        raise NotImplementedError

    @staticmethod
    def project(cell: RecurrentCell, x: Tensor) -> Tensor:
        """``W_ih x + b_ih + b_hh`` for a time-major ``x`` (T, B, I): one GEMM for all steps."""
        if type(cell).project_input is RecurrentCell.project_input:  # plain W_ih x + b_ih
            bias = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
            return linear(x, cell.weight_ih, bias)
        xp = cell.project_input(x)  # e.g. layer norm: autograd differentiates whatever it does
        return xp if cell.bias_hh is None else xp + cell.bias_hh

    def __init__(self, config: tuple, weights: list[Tensor], steps: int, batch: int, saving: bool):
        self.config = config
        self.saving = saving  # training: keep what the backward needs; inference: keep nothing

    def take_saved(self) -> list[Tensor | None]:
        """The ``saved`` buffers, which the kernel stops holding."""
        tensors = [getattr(self, name) for name in self.saved]
        for name in self.saved:
            setattr(self, name, None)
        return tensors

    def restore_saved(self, tensors: list[Tensor | None]) -> None:
        """Hold the ``saved`` buffers again, for a backward."""
        for name, tensor in zip(self.saved, tensors, strict=True):
            setattr(self, name, tensor)

    def step(self, t: int, xp_t: Tensor, h_in: Tensor, prev: list[Tensor], out: list[Tensor]):
        """Step ``t``: from the projected input, the (masked) state entering the recurrent
        product ``h_in`` and the previous states, write the new states into ``out``."""
        raise NotImplementedError

    def prepare_backward(self, prev_all: list[Tensor], new_all: list[Tensor]) -> None:
        """Before the backward loop: vectorised over all steps, whatever the steps share.

        ``prev_all[j]`` / ``new_all[j]``: state j before / after each step's cell maths (before
        zoneout), ``(T, B, H)``.
        """

    def step_backward(
        self,
        t: int,
        d_new: list[Tensor],
        prev: list[Tensor],
        new: list[Tensor],
        d_prev: list[Tensor],
    ) -> tuple[Tensor | None, Tensor, MatMul]:
        """Step ``t`` backward.

        ``d_new[j]`` is the complete gradient of state j after the step (the kernel may change it
        in place). Add the direct gradients of the previous states into ``d_prev`` and return
        ``(extra, dmat, back)``: the gradient of ``h_in`` is ``extra + back(dmat)``, ``back`` being
        the :class:`~.matmul.MatMul` of the transposed recurrent weight (``extra`` may be None); the
        engine routes it through the recurrent dropout mask.
        """
        raise NotImplementedError

    def grads(
        self,
        h_in_all: Tensor,
        prev_all: list[Tensor],
        new_all: list[Tensor],
        d_new_all: list[Tensor],
    ) -> tuple[Tensor, list[Tensor]]:
        """After the loop: the gradient of the projected input ``(T, B, G)`` and of each weight,
        as single GEMMs over the stacked ``(T * B)`` rows. ``h_in_all``: every step's ``h_in``."""
        raise NotImplementedError


# below this many elements one slow tanh beats four fast ops (measured: 1024 floats, tanh 5 us,
# identity 8 us; 4096 floats, 18 us against 10 us)
_TANH_VIA_SIGMOID_FROM = 2048


def tanh_(x: Tensor) -> Tensor:
    """``x.tanh_()``, on CPU as ``2 sigmoid(2x) - 1``.

    PyTorch's CPU tanh is scalar code, about 6x slower than its vectorised sigmoid (measured:
    5.2 vs 0.8 ns per float32 on this AVX-512 machine), and an LSTM step takes two of them. The
    identity costs an absolute error of about 1e-7 in float32 (1e-16 in float64). It takes four
    ops instead of one, so small tensors, where the cost of an op is its dispatch, keep tanh; on GPU
    tanh is already fast.
    """
    if x.device.type != "cpu" or x.numel() < _TANH_VIA_SIGMOID_FROM:
        return x.tanh_()
    return x.mul_(2).sigmoid_().mul_(2).sub_(1)


def tanh_into(x: Tensor, out: Tensor) -> Tensor:
    """``torch.tanh(x, out=out)``, by the same identity as :func:`tanh_`."""
    if x.device.type != "cpu" or x.numel() < _TANH_VIA_SIGMOID_FROM:
        return torch.tanh(x, out=out)
    return torch.mul(x, 2, out=out).sigmoid_().mul_(2).sub_(1)
