"""Tiny models, datasets and objectives for the Trainer tests (no rnnkit layers needed).

Two tasks: a regression (`Regression`, full BPTT only) and a sequence-to-sequence regression
through an LSTM (`SeqRegression`, which also supports truncated BPTT). Both are
deterministic given the seed, small enough to train in milliseconds, and importable by the
processes that the distributed test spawns.
"""

from __future__ import annotations

import csv
from pathlib import Path

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


class TiedEmbedding(nn.Module):
    """An embedding whose matrix is also the output layer's: one tensor under two names."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.embed.weight


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


def distributed_scenarios(out_dir: str) -> dict[str, object]:
    """What the distributed tests run in every process (or in one, for the reference).

    Returns the final weights of a Regression MLP (Adam, clipping, dev evaluation) and of a
    TBPTT SeqModel (SGD with momentum); whether stopping half-way and resuming gave the same
    weights as an uninterrupted run (with dropout: every rank's random stream must resume);
    and the error of a batch size that the world size does not divide (None if it does).
    """
    import os
    from pathlib import Path

    from rnnkit.train import TrainConfig, Trainer

    torch.set_num_threads(1)
    out = Path(out_dir)
    rank = int(os.environ.get("RANK", "0"))  # the group itself is created by the first Trainer
    common = {"batch_size": 8, "clip_norm": 0.5, "progress": False, "checkpoint_every": 3}
    results: dict[str, object] = {}

    def model(cls, seed=0):
        torch.manual_seed(seed + rank)  # differs per rank: DDP must broadcast rank 0's weights
        return cls()

    mlp = model(MLP)
    config = TrainConfig(max_steps=6, eval_every=2, **common)
    dev = regression_data(8, seed=1)
    Trainer(mlp, Regression(), regression_data(24), config, out / "mlp", dev).fit()
    results["mlp"] = flat_params(mlp)

    seq = model(SeqModel)
    config = TrainConfig(max_steps=4, tbptt=5, optimizer="sgd", lr=0.1, momentum=0.9, **common)
    Trainer(seq, SeqRegression(), sequence_data(16), config, out / "seq").fit()
    results["seq"] = flat_params(seq)

    dropout = lambda: MLP(dropout=0.5)  # noqa: E731
    config = TrainConfig(max_steps=6, **common)
    whole = model(dropout)
    Trainer(whole, Regression(), regression_data(24), config, out / "whole").fit()
    half = config.replace(max_steps=3)
    Trainer(model(dropout), Regression(), regression_data(24), half, out / "split").fit()
    resumed = model(dropout, seed=7)
    Trainer(resumed, Regression(), regression_data(24), config, out / "split").fit(resume=True)
    results["resumed_equal"] = torch.equal(flat_params(whole), flat_params(resumed))

    try:
        Trainer(MLP(), Regression(), regression_data(8), TrainConfig(batch_size=7), out)
        results["error"] = None
    except ValueError as err:
        results["error"] = str(err)
    return results


def logged_rows(out_dir: Path) -> list[dict[str, str]]:
    """train.csv without its timing column (the one thing allowed to differ)."""
    with open(out_dir / "train.csv") as handle:
        return [{k: v for k, v in r.items() if k != "items_per_s"} for r in csv.DictReader(handle)]
