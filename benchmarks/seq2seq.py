"""``python -m benchmarks.seq2seq``: the cost of a sequence-to-sequence training step, by variant.

The transliteration task's ``full`` model (BiLSTM encoder 2 x 256, attention LSTM decoder 2 x 256)
on real CMUdict batches, one training step = forward, backward and Adam update. Four variants,
interleaved in one process (DESIGN.md §3):

* decoder with Luong input feeding (teacher forcing steps one token at a time) or without (each
  layer unrolled over the whole target at once, attention batched);
* random batches (padded to their longest word) or bucketed ones (``TrainConfig.bucket``).

The ratios go to RESULTS.md, between their own markers.

Examples::

    python -m benchmarks.seq2seq --threads 1
    python -m benchmarks.seq2seq --quick        # a smoke run, printed only
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from rnnkit.tasks.translit.task import TranslitConfig, TranslitTask
from rnnkit.train.data import BatchOrder

from .measure import _timed
from .report import Experiment, environment
from .translit_models import TINY

EXPERIMENT = Experiment("seq2seq", __doc__, "a tiny model, printed only")
FULL = {"embed_dim": 128, "hidden_size": 256, "num_layers": 2, "dropout": 0.3}


@dataclass
class Variant:
    name: str
    input_feeding: bool
    bucket: bool


VARIANTS = [
    Variant("input feeding, random batches", True, False),
    Variant("input feeding, bucketed batches", True, True),
    Variant("all steps at once, random batches", False, False),
    Variant("all steps at once, bucketed batches", False, True),
]


class StepCase:
    """One variant: its model, optimiser and a fixed cycle of training batches."""

    def __init__(self, variant: Variant, task, data, sizes: dict, batch: int, batches: int):
        config = TranslitConfig(**sizes, input_feeding=variant.input_feeding)
        torch.manual_seed(0)
        self.model = task.build_model(config, data.metadata).train()
        self.objective = task.objective(config, data.metadata)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        lengths = [self.objective.length(p) for p in data.train] if variant.bucket else None
        order = BatchOrder(len(data.train), batch, seed=0, lengths=lengths)
        self.batches = [
            self.objective.collate([data.train[i] for i in order.global_batch(step)])
            for step in range(batches)
        ]
        self.next = 0

    def train_step(self) -> None:
        batch = self.batches[self.next % len(self.batches)]
        self.next += 1
        loss = self.objective.loss(self.model, batch)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


def measure(sizes: dict, batch: int, batches: int, repeats: int) -> dict[str, float]:
    """Median seconds of one training step of each variant, interleaved round by round."""
    task = TranslitTask()
    data = task.build_data(TranslitConfig(**sizes))
    cases = [StepCase(v, task, data, sizes, batch, batches) for v in VARIANTS]
    samples: list[list[float]] = [[] for _ in cases]
    for case in cases:  # warm-up
        case.train_step()
    for round_ in range(repeats):
        shift = round_ % len(cases)
        for i in [*range(shift, len(cases)), *range(shift)]:
            # one sample = a whole cycle of batches, so every variant sees the same words
            samples[i].append(_timed(cases[i].train_step, batches))
    return {v.name: statistics.median(s) for v, s in zip(VARIANTS, samples, strict=True)}


def document(
    times: dict[str, float], command: str, sizes: dict, batch: int, batches: int, repeats: int
) -> str:
    base = times[VARIANTS[0].name]
    lines = [
        "## Sequence to sequence: a training step of the transliteration model",
        "",
        environment(command),
        f"- model: {sizes}; batches of {batch} CMUdict training "
        f"words; each sample: {batches} consecutive batches; median of {repeats} interleaved "
        "samples",
        "",
        "| variant | ms per step | words / s | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in times.items():
        lines.append(
            f"| {name} | {seconds * 1e3:.0f} | {batch / seconds:.0f} | {base / seconds:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = EXPERIMENT.parser()
    parser.add_argument("--batch", type=int, default=128, help="words per batch (default 128)")
    args = EXPERIMENT.parse(parser, argv)
    sizes = {**FULL, "train_words": 20_000}  # the `full` preset's model; fewer words load faster
    batches, repeats, batch = 6, args.repeats, args.batch
    if args.quick:
        sizes = TINY
        batches, repeats, batch = 2, 1, 16
    times = measure(sizes, batch, batches, repeats)
    body = document(times, args.command, sizes, batch, batches, repeats)
    return EXPERIMENT.publish(body, args.quick)


if __name__ == "__main__":
    main()
