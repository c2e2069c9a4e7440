"""Tiny models, datasets and objectives for the Trainer tests (no rnnkit layers needed).

Two tasks: a regression (`Regression`, full BPTT only) and a sequence-to-sequence regression
through an LSTM (`SeqRegression`, which also supports truncated BPTT). Both are
deterministic given the seed, small enough to train in milliseconds, and importable by the
processes that the distributed test spawns.
"""

from __future__ import annotations

import torch
from torch import nn

IN, OUT, HIDDEN, STEPS = 4, 2, 8, 12


def regression_data(n: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`n` pairs (x, y) with y a fixed linear map of x (the same for every seed) plus noise."""
    w = torch.randn(IN, OUT, generator=torch.Generator().manual_seed(1234))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, IN, generator=g)
    y = x @ w + 0.01 * torch.randn(n, OUT, generator=g)
    return list(zip(x, y))


def sequence_data(n: int, seed: int = 0, steps: int = STEPS):
    """`n` pairs (x, y) of shape (steps, IN) and (steps, OUT): y_t is a running mean of x."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, steps, IN, generator=g)
    y = (x.cumsum(1) / torch.arange(1, steps + 1).view(1, -1, 1))[..., :OUT]
    return list(zip(x, y))


class MLP(nn.Module):
    """A two-layer perceptron, with dropout so that random streams matter for resume tests."""

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(IN, HIDDEN), nn.Tanh(), nn.Dropout(dropout), nn.Linear(HIDDEN, OUT)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SeqModel(nn.Module):
    """LSTM + linear read-out; `forward(x, state) -> (y, (h, c))`."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(IN, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, OUT)

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)
        return self.head(out), state


def _stack(examples):
    xs, ys = zip(*examples)
    return torch.stack(xs), torch.stack(ys)


class Regression:
    """Mean squared error; dev metric "mse" (lower is better)."""

    metric = "mse"
    higher_is_better = False

    def collate(self, examples):
        return _stack(examples)

    def loss(self, model, batch):
        x, y = batch
        return ((model(x) - y) ** 2).mean()

    def evaluate(self, model, dev_set):
        x, y = _stack(dev_set)
        return {"mse": ((model(x) - y) ** 2).mean().item(), "size": len(dev_set)}


class SeqRegression(Regression):
    """Per-step mean squared error through `SeqModel`, with truncated BPTT support."""

    def loss(self, model, batch):
        x, y = batch
        return ((model(x)[0] - y) ** 2).mean()

    def split_time(self, batch, k):
        x, y = batch
        return [(x[:, s : s + k], y[:, s : s + k]) for s in range(0, x.shape[1], k)]

    def loss_with_state(self, model, chunk, state):
        x, y = chunk
        prediction, state = model(x, state)
        return ((prediction - y) ** 2).mean(), state

    def evaluate(self, model, dev_set):
        x, y = _stack(dev_set)
        return {"mse": ((model(x)[0] - y) ** 2).mean().item()}


def flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])
