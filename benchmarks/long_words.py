"""``python -m benchmarks.long_words --model DIR``: a trained transliterator on long words, decoded
with the attention window and without it.

The attention decoder learned from CMUdict words, few of them longer than 15 letters. On longer
words it can lose its place: attention jumps ahead over letters, or the pronunciation ends
half-way (``pseudopseudohypoparathyroidism`` -> ``S UW D AA P S UW D OW``). The attention window
(:class:`rnnkit.decoding.AttentionWindow`, Chorowski et al. 2015) keeps attention within a few
letters of where it was and ends the word only at its last letters.

Three word sets from each of the dev split (on which the window's sizes were chosen) and the
test split:

* the split's words, scored as ``rnnkit eval`` scores them;
* its words of 15 letters or more;
* 1,000 pairs of its words written as one (``hotdog`` = ``hot`` + ``dog``, drawn with a fixed
  seed), whose reference is any pronunciation of the first followed by any of the second: long
  inputs with a known answer. A compound's sound is not always the sum of its parts' (a letter
  pair can span the join), so the rates there are high for any decoder; they compare decoders.

For one model (not an ensemble) it also counts how its attention moves when teacher-forced on the
dev pronunciations: from one phoneme to the next, how far the most-weighted letter moves, and
where it is when ``</s>`` is written. Those counts are what the window's sizes rest on.

Each set is decoded as the task decodes (beam and batches), once per decoding, and the time to
decode the dev words is given for both (median of ``--repeats``, interleaved). The table goes to
RESULTS.md between its markers.

Examples::

    python -m benchmarks.long_words --model runs/translit-full --threads 2
    python -m benchmarks.long_words --quick      # a random tiny model, printed only
    python -m benchmarks.long_words --model DIR --plot docs/img/translit-long-words.png
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import statistics
from collections import Counter
from collections.abc import Sequence

import torch

from rnnkit.decoding import AttentionWindow
from rnnkit.diagnostics import plot_attention
from rnnkit.metrics import g2p_scores
from rnnkit.tasks import get_task
from rnnkit.tasks.run import load_ensemble

from .measure import _timed
from .report import Experiment, environment
from .translit_models import TINY, preset_model

EXPERIMENT = Experiment("long_words", __doc__, "a random tiny model and 20 words, printed only")
LONG = 15  # letters: the "long words" subset
PAIRS = 1000
WINDOWS = {"no window": None, "attention window": AttentionWindow()}
PLOTTED = ("pseudopseudohypoparathyroidism", "electroencephalographically")  # --plot


@dataclasses.dataclass
class WordSet:
    name: str
    words: list[str]
    references: list[list[tuple[str, ...]]]


def word_sets(entries: Sequence, pairs: int, seed: int = 0) -> list[WordSet]:
    """The split's words, its long words, and ``pairs`` pairs of its words joined."""
    words = [e.word for e in entries]
    refs = [[tuple(p) for p in e.pronunciations] for e in entries]
    long = [i for i, w in enumerate(words) if len(w) >= LONG]
    rng = random.Random(seed)
    joined = [(rng.randrange(len(words)), rng.randrange(len(words))) for _ in range(pairs)]
    return [
        WordSet("words", words, refs),
        WordSet(f"words of {LONG}+ letters", [words[i] for i in long], [refs[i] for i in long]),
        WordSet(
            "two words joined",
            [words[a] + words[b] for a, b in joined],
            [[x + y for x in refs[a] for y in refs[b]] for a, b in joined],
        ),
    ]


def attention_moves(objective, model, pairs, batch_size: int = 500) -> tuple[Counter, Counter]:
    """Under teacher forcing on ``pairs``: how many times the most-weighted source position moved
    by each offset from one output step to the next, and how far before the last letter it was
    at the step that wrote EOS."""
    moves: Counter = Counter()
    end_gap: Counter = Counter()
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            src, src_lengths, tgt_in, tgt_out = objective.collate(pairs[start : start + batch_size])
            _, weights = model(src, src_lengths, tgt_in, return_attention=True)
            read = weights.argmax(dim=-1)
            steps = (tgt_out != objective.phonemes.pad_id).sum(dim=1)
            for row in range(src.shape[0]):
                path = read[row, : int(steps[row])].tolist()
                moves.update(b - a for a, b in itertools.pairwise(path))
                end_gap[int(src_lengths[row]) - 1 - path[-1]] += 1
    return moves, end_gap


def describe_moves(moves: Counter, end_gap: Counter) -> str:
    window = AttentionWindow()
    total = sum(moves.values())
    inside = sum(n for offset, n in moves.items() if -window.back <= offset <= window.ahead)
    counts = ", ".join(f"{offset:+d}: {n}" for offset, n in sorted(moves.items()))
    words = sum(end_gap.values())
    return (
        f"- attention teacher-forced on the dev pronunciations: moves of the most-weighted letter "
        f"between phonemes {counts} ({100 * inside / total:.2f}% within the window, "
        f"{window.back} back to {window.ahead} ahead); EOS read at the last letter in "
        f"{end_gap[0]} of {words} words, at one of the last {window.end + 1} in "
        f"{sum(end_gap[g] for g in range(window.end + 1))}"
    )


def plot_long_words(objective, model, path: str):
    """The attention over each of ``PLOTTED``, decoded without the window and with it."""
    panels, titles = [], []
    for word in PLOTTED:
        for name, window in WINDOWS.items():
            objective.window = window
            limit = objective.decoding_length([word])
            tokens, weights = objective.generate(model, [word], limit, return_attention=True)
            panels.append((list(word), objective.phonemes.decode(tokens[0]), weights[0]))
            titles.append(f"{name}: {word}")
    return plot_attention(panels, path, columns=2, titles=titles)


def scores(objective, model, sets: list[WordSet]) -> dict[str, dict]:
    return {
        s.name: g2p_scores(objective.transliterate(model, s.words), s.references)
        for s in sets
        if s.words
    }


def measure(objective, model, splits: dict[str, list[WordSet]], repeats: int) -> dict:
    """Per decoding: the scores of every set of every split, and the seconds to decode the first
    split's words."""
    timed = next(iter(splits.values()))[0].words
    results: dict[str, dict] = {}
    for name, window in WINDOWS.items():
        objective.window = window
        results[name] = {
            "scores": {split: scores(objective, model, sets) for split, sets in splits.items()},
            "seconds": [],
        }
    for round_ in range(repeats):
        for name in WINDOWS if round_ % 2 == 0 else reversed(WINDOWS):
            objective.window = WINDOWS[name]
            results[name]["seconds"].append(
                _timed(lambda: objective.transliterate(model, timed), 1)
            )
    return results


def document(
    results: dict,
    splits: dict[str, list[WordSet]],
    command: str,
    about: str,
    repeats: int,
    moves: str | None,
) -> str:
    lines = [
        "## Long words: the transliterator decoded with and without the attention window",
        "",
        environment(command),
        f"- {about}; beam as the run's config; cells: WER / PER; decoding time: all the dev "
        f"words, median of {repeats} interleaved samples",
        *([moves] if moves else []),
    ]
    for index, (split, sets) in enumerate(splits.items()):
        names = [s.name for s in sets if s.words]
        counts = {s.name: len(s.words) for s in sets}
        columns = [f"{n} ({counts[n]})" for n in names] + ["s to decode"] * (index == 0)
        lines += ["", f"| {split} split | {' | '.join(columns)} |"]
        lines.append("|---|" + "---:|" * len(columns))
        for name, result in results.items():
            cells = [
                f"{100 * result['scores'][split][n]['wer']:.2f}% / "
                f"{100 * result['scores'][split][n]['per']:.2f}%"
                for n in names
            ]
            if index == 0:
                cells.append(f"{statistics.median(result['seconds']):.1f}")
            lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = EXPERIMENT.parser()
    parser.set_defaults(repeats=3)
    parser.add_argument(
        "--model", action="append", help="a run of `rnnkit train translit` (repeat: ensemble)"
    )
    parser.add_argument(
        "--plot", metavar="FILE", help="also draw the attention over two long words (.png/.svg)"
    )
    args = EXPERIMENT.parse(parser, argv)
    if args.quick:
        built = preset_model("small", TINY)
        model, objective, data = built.model.eval(), built.objective, built.data
        entries = {split: data.scored(split)[:20] for split in ("dev", "test")}
        pairs, repeats = 20, 1
        about = "a random tiny model"
        dev_pairs = [data.for_loss("dev")[i] for i in range(20)]
    else:
        if not args.model:
            parser.error("--model DIR is needed (or --quick)")
        task = get_task("translit")
        trained = load_ensemble(task, args.model)
        model = trained.model
        objective = task.objective(trained.config, trained.metadata)
        data = task.build_data(trained.config)
        entries = {split: data.scored(split) for split in ("dev", "test")}
        pairs, repeats = PAIRS, args.repeats
        about = f"model {', '.join(args.model)}"
        dev_pairs = list(data.for_loss("dev")) if len(args.model) == 1 else None
    splits = {split: word_sets(chosen, pairs) for split, chosen in entries.items()}
    moves = describe_moves(*attention_moves(objective, model, dev_pairs)) if dev_pairs else None
    results = measure(objective, model, splits, repeats)
    body = document(results, splits, args.command, about, repeats, moves)
    if args.plot:
        figure = plot_long_words(objective, model, args.plot)
        body += f"\nattention over two long words, both decodings: {figure}\n"
    return EXPERIMENT.publish(body, args.quick)


if __name__ == "__main__":
    main()
