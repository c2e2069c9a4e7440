"""``python -m benchmarks.collate``: padding a training batch, against the step it feeds.

The Trainer collates every batch on the main thread, between two training steps, so its cost
adds to every step. Compared here, on the transliteration task's real bucketed batches (the
``small`` preset's 128 words; each batch pads three lists: letters, ``bos`` + phonemes and
phonemes + ``eos``), three ways to pad a batch of id lists:

* a tensor per row, copied into a padded tensor row by row (what ``pad_batch`` used to do);
* ``torch.nn.utils.rnn.pad_sequence`` over a tensor per row;
* ``rnnkit.data.pad_batch``: the rows padded as Python lists, then one ``torch.tensor`` call.

and, for scale, one training step of the preset's model on the same batches (forward, backward,
fused Adam). All four are interleaved in one process (DESIGN.md §3); the table goes to
RESULTS.md, between its own markers.

Examples::

    python -m benchmarks.collate --threads 2
    python -m benchmarks.collate --quick        # a smoke run, printed only
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

from rnnkit.data import pad_batch
from rnnkit.train.data import BatchOrder

from .measure import _timed
from .report import Experiment, environment
from .translit_models import TINY, preset_model

EXPERIMENT = Experiment("collate", __doc__, "a tiny model, printed only")
Rows = Sequence[Sequence[int]]


def tensor_per_row(rows: Rows, pad_id: int) -> torch.Tensor:
    tensors = [torch.as_tensor(row, dtype=torch.long) for row in rows]
    ids = torch.full((len(tensors), max(len(t) for t in tensors)), pad_id, dtype=torch.long)
    for i, row in enumerate(tensors):
        ids[i, : len(row)] = row
    return ids


def with_pad_sequence(rows: Rows, pad_id: int) -> torch.Tensor:
    tensors = [torch.as_tensor(row, dtype=torch.long) for row in rows]
    return pad_sequence(tensors, batch_first=True, padding_value=pad_id)


PADDERS: dict[str, Callable[[Rows, int], torch.Tensor]] = {
    "a tensor per row": tensor_per_row,
    "pad_sequence": with_pad_sequence,
    "pad_batch": lambda rows, pad_id: pad_batch(rows, pad_id)[0],
}
STEP = "training step"


class Batches:
    """The preset's model, its optimiser and a fixed cycle of bucketed training batches."""

    def __init__(self, preset: str, overrides: dict, batch: int, count: int) -> None:
        built = preset_model(preset, overrides)
        self.model, self.objective = built.model.train(), built.objective
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, fused=True)
        pairs = built.data.train
        order = BatchOrder(len(pairs), batch, seed=0, lengths=[len(p.letters) for p in pairs])
        letters, phonemes = self.objective.letters, self.objective.phonemes
        self.lists = []  # per batch: the three lists collate pads, with their pad ids
        self.collated = []  # per batch: what collate makes of it, for the training step
        for step in range(count):
            chosen = [pairs[i] for i in order.global_batch(step)]
            self.lists.append(
                [
                    ([p.letters for p in chosen], letters.pad_id),
                    ([[phonemes.bos_id, *p.phonemes] for p in chosen], phonemes.pad_id),
                    ([[*p.phonemes, phonemes.eos_id] for p in chosen], phonemes.pad_id),
                ]
            )
            self.collated.append(self.objective.collate(chosen))

    def pad_all(self, padder: Callable[[Rows, int], torch.Tensor]) -> None:
        for lists in self.lists:
            for rows, pad_id in lists:
                padder(rows, pad_id)

    def train_all(self) -> None:
        for batch in self.collated:
            loss = self.objective.loss(self.model, batch)
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)


def measure(batches: Batches, repeats: int) -> dict[str, float]:
    """Median seconds per batch of each padder and of a training step, interleaved."""
    runs = {name: (lambda p=padder: batches.pad_all(p)) for name, padder in PADDERS.items()}
    runs[STEP] = batches.train_all
    for run in runs.values():  # warm-up
        run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            samples[name].append(_timed(runs[name], 1) / len(batches.lists))
    return {name: statistics.median(s) for name, s in samples.items()}


def document(
    times: dict[str, float], command: str, preset: str, batch: int, count: int, repeats: int
) -> str:
    step = times[STEP]
    lines = [
        "## Collating a batch: padding the id lists, against the training step",
        "",
        environment(command),
        f"- the `{preset}` preset's model and {count} of its bucketed training batches of {batch}"
        f" CMUdict words; each sample: all {count} batches; median of {repeats} interleaved"
        " samples; a batch's collation pads three lists (letters, `bos` + phonemes, phonemes +"
        " `eos`)",
        "",
        "| way | ms per batch | / pad_batch | share of a training step |",
        "|---|---:|---:|---:|",
    ]
    for name in PADDERS:
        seconds = times[name]
        lines.append(
            f"| {name} | {seconds * 1e3:.2f} | {seconds / times['pad_batch']:.2f}x "
            f"| {100 * seconds / step:.1f}% |"
        )
    lines.append(f"| ({STEP}: forward, backward, Adam) | {step * 1e3:.1f} | | 100% |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    args = EXPERIMENT.parse(EXPERIMENT.parser(), argv)
    preset, overrides = "small", {"train_words": 20_000}
    batch, count, repeats = 128, 20, args.repeats
    if args.quick:
        overrides, batch, count, repeats = TINY, 16, 2, 1
    times = measure(Batches(preset, overrides, batch, count), repeats)
    body = document(times, args.command, preset, batch, count, repeats)
    return EXPERIMENT.publish(body, args.quick)


if __name__ == "__main__":
    main()
