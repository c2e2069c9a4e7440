"""A first LSTM: learn whether a string of brackets is balanced.

Run with ``.venv/bin/python examples/quickstart.py`` (``make demo`` or ``make test`` sets up
``.venv``). It generates bracket
strings of varying length, trains a small ``rk.LSTM`` acceptor on them for a few seconds on
two CPU cores, and prints what it learned, including on strings longer than any it was trained on.
Variable lengths are passed as ``lengths``: padding never changes a result.
"""

from __future__ import annotations

import random
import time

import torch
from torch import nn

import rnnkit as rk

SYMBOLS = {"(": 0, ")": 1}


def balanced(length: int, rng: random.Random) -> str:
    """A random balanced string of ``length`` (even) brackets."""
    out, depth, opens_left = [], 0, length // 2
    for remaining in range(length, 0, -1):
        # Open when we must (depth 0) or at random while openings are left and room to close them.
        must_open = depth == 0
        may_open = opens_left > 0 and depth + 1 <= remaining - 1
        if must_open or (may_open and rng.random() < 0.5):
            out.append("(")
            depth, opens_left = depth + 1, opens_left - 1
        else:
            out.append(")")
            depth -= 1
    return "".join(out)


def example(rng: random.Random, max_len: int) -> tuple[str, int]:
    """Half balanced strings, half shuffles of them that are not balanced (hard negatives: the
    counts of "(" and ")" still agree, so counting alone cannot tell them apart)."""
    length = 2 * rng.randint(1, max_len // 2)
    text = balanced(length, rng)
    if rng.random() < 0.5:
        return text, 1
    while is_balanced(text):
        text = "".join(rng.sample(text, length))
    return text, 0


def is_balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += 1 if ch == "(" else -1
        if depth < 0:
            return False
    return depth == 0


def encode(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(t) for t in texts])
    x = torch.zeros(len(texts), int(lengths.max()), len(SYMBOLS))
    for row, text in enumerate(texts):
        for t, ch in enumerate(text):
            x[row, t, SYMBOLS[ch]] = 1.0
    return x, lengths


class BracketAcceptor(nn.Module):
    """An LSTM reads the string; its final state (at each string's own length) gives the label."""

    def __init__(self, hidden_size: int = 32) -> None:
        super().__init__()
        self.rnn = rk.LSTM(len(SYMBOLS), hidden_size)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, x, lengths):
        _, (h, _) = self.rnn(x, lengths)
        return self.head(h[-1])


def accuracy(model, examples: list[tuple[str, int]]) -> float:
    texts, labels = (list(column) for column in zip(*examples, strict=True))
    with torch.no_grad():
        x, lengths = encode(texts)
        return (model(x, lengths).argmax(1) == torch.tensor(labels)).float().mean().item()


def main(steps: int = 600, train_len: int = 20, seed: int = 0) -> None:
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = BracketAcceptor()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    test = [example(rng, train_len) for _ in range(1000)]
    longer = [example(rng, 2 * train_len) for _ in range(1000)]

    print(f"Training an LSTM to tell balanced bracket strings (length <= {train_len})")
    start = time.perf_counter()
    for step in range(1, steps + 1):
        texts, labels = zip(*(example(rng, train_len) for _ in range(64)), strict=True)
        x, lengths = encode(list(texts))
        loss = nn.functional.cross_entropy(model(x, lengths), torch.tensor(labels))
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        if step % 100 == 0:
            acc = accuracy(model, test)
            print(f"  step {step:4d}  loss {loss.item():.3f}  test accuracy {acc:6.1%}")
    print(f"Trained in {time.perf_counter() - start:.0f} s.")

    print(f"\nHeld-out accuracy, lengths <= {train_len}: {accuracy(model, test):.1%}")
    print(f"Longer than training, <= {2 * train_len}:  {accuracy(model, longer):.1%}")
    print("(chance is 50%)\n")
    samples = ["()", ")(", "(())()", "())(()", "((((()))))", "(()))(()", "()()()()()()()()()()()()"]
    x, lengths = encode(samples)
    with torch.no_grad():
        probs = model(x, lengths).softmax(1)[:, 1]
    print(f"{'string':<26} {'truly balanced':<16} model says")
    for text, p in zip(samples, probs, strict=True):
        truth = "yes" if is_balanced(text) else "no"
        print(f"{text:<26} {truth:<16} {'yes' if p > 0.5 else 'no'} ({p:.2f})")


if __name__ == "__main__":
    main()
