"""What every cell shares: one time step ``(x_t, state) -> (y_t, state)``.

A cell splits its step in two so that the unroll engine can be fast without knowing the cell:

* ``project_input(x)`` is the part of the pre-activations that depends only on the input. It
  works on any leading shape, so the engine computes it for all time steps at once with one GEMM.
* ``step(xp_t, state, recurrent_mask)`` is the rest: the recurrent product and the cell's equations.

``forward(x_t, state)`` is simply ``step(project_input(x_t), state)``: the cell used on its own.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

State = Tensor | tuple[Tensor, ...]


class RecurrentCell(nn.Module):
    """Base class of rnnkit's cells.

    Subclasses set ``num_gates`` (how many ``hidden_size`` blocks the pre-activations hold), create
    their parameters through :meth:`_create_projections` and implement :meth:`step`.

    ``fused_mode`` names the PyTorch fused kernel ("LSTM", "GRU", "RNN_TANH", "RNN_RELU") whose
    maths equals this cell's exactly, or is ``None`` when the cell has options that no fused
    kernel knows.
    """

    num_gates: int = 1
    fused_mode: str | None = None

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"{type(self).__name__}: {name} must be a positive int, got {value!r}"
                )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias

    # -- parameters -------------------------------------------------------------------------------
    def _create_projections(self) -> None:
        """The input and recurrent weights, laid out as PyTorch's (gate blocks stacked on dim 0)."""
        gates = self.num_gates * self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates, self.input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates, self.hidden_size))
        if self.bias:
            # Two biases, as in PyTorch and cuDNN, so that weights convert exactly; they add up to
            # the lecture's single b (the GRU's candidate needs them apart, see GRUCell).
            self.bias_ih = nn.Parameter(torch.zeros(gates))
            self.bias_hh = nn.Parameter(torch.zeros(gates))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialisations that keep gradients alive.

        Input weights: Glorot-uniform per gate block. Recurrent weights: orthogonal per gate block,
        so that the recurrent Jacobian starts with all singular values 1 (Saxe et al. 2014).
        Biases: 0.
        """
        for block in self.weight_ih.chunk(self.num_gates, 0):
            nn.init.xavier_uniform_(block)
        for block in self.weight_hh.chunk(self.num_gates, 0):
            nn.init.orthogonal_(block)
        if self.bias:
            self.bias_ih.zero_()
            self.bias_hh.zero_()

    def flat_weights(self) -> list[Tensor]:
        """Weights in the order PyTorch's fused kernels expect: w_ih, w_hh[, b_ih, b_hh]."""
        weights = [self.weight_ih, self.weight_hh]
        if self.bias:
            weights += [self.bias_ih, self.bias_hh]
        return weights

    # -- state ------------------------------------------------------------------------------------
    def initial_state(
        self, batch_size: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """The zero state for ``batch_size`` sequences."""
        return torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)

    @staticmethod
    def output_of(state: State) -> Tensor:
        """The step's output ``y_t``: the hidden state ``h_t`` (the first part of a tuple state)."""
        return state[0] if isinstance(state, tuple) else state

    # -- the step ---------------------------------------------------------------------------------
    def project_input(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih`` for inputs of any leading shape ``(..., input_size)``."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def project_recurrent(self, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        """``W_hh h + b_hh``; ``recurrent_mask`` drops units of the state entering the product only
        (variational recurrent dropout, Gal & Ghahramani 2016): the carried state is not masked."""
        if recurrent_mask is not None:
            h = h * recurrent_mask
        return F.linear(h, self.weight_hh, self.bias_hh)

    def step(
        self, xp_t: Tensor, state: State, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """One step from the projected input ``xp_t = project_input(x_t)``."""
        raise NotImplementedError

    def forward(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One time step: ``x_t`` of shape ``(batch, input_size)``; ``state=None`` means zeros."""
        self._check_input(x_t)
        if state is None:
            state = self.initial_state(x_t.shape[0], x_t.device, x_t.dtype)
        else:
            self._check_state(state, x_t.shape[0])
        return self.step(self.project_input(x_t), state)

    # -- checks -----------------------------------------------------------------------------------
    def _check_input(self, x_t: Tensor) -> None:
        name = type(self).__name__
        if not isinstance(x_t, Tensor):
            raise TypeError(f"{name}: x_t must be a Tensor, got {type(x_t).__name__}")
        if x_t.dim() != 2 or x_t.shape[1] != self.input_size:
            raise ValueError(
                f"{name}: x_t must have shape (batch, input_size={self.input_size}), "
                f"got {tuple(x_t.shape)}"
            )
        if not x_t.is_floating_point():
            raise TypeError(f"{name}: x_t must be a floating-point tensor, got {x_t.dtype}")

    def _check_state(self, state: State, batch_size: int) -> None:
        expected = self.initial_state(batch_size, device="meta")
        check_state_like(type(self).__name__, "state", state, expected)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


def check_state_like(owner: str, name: str, state: State, expected: State) -> None:
    """Raise a clear error when ``state`` does not have the structure and shapes of ``expected``."""
    if isinstance(expected, tuple):
        if not isinstance(state, tuple) or len(state) != len(expected):
            raise TypeError(
                f"{owner}: {name} must be a tuple of {len(expected)} tensors "
                f"(h, c), got {type(state).__name__}"
            )
        for i, (part, want) in enumerate(zip(state, expected, strict=True)):
            check_state_like(owner, f"{name}[{i}]", part, want)
        return
    if not isinstance(state, Tensor):
        raise TypeError(f"{owner}: {name} must be a Tensor, got {type(state).__name__}")
    if tuple(state.shape) != tuple(expected.shape):
        raise ValueError(
            f"{owner}: {name} must have shape {tuple(expected.shape)}, got {tuple(state.shape)}"
        )


def uniform_time_scales(hidden_size: int, shortest: float = 1.25, longest: float = 100.0) -> Tensor:
    """Per-unit leak rates ``a = 1 - 1/tau`` with time constants ``tau`` spread geometrically
    between ``shortest`` and ``longest`` steps, so some units remember for long and some not."""
    if hidden_size == 1:
        tau = torch.tensor([math.sqrt(shortest * longest)])
    else:
        tau = torch.logspace(math.log10(shortest), math.log10(longest), hidden_size)
    return 1.0 - 1.0 / tau
