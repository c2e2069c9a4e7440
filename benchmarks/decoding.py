"""``python -m benchmarks.decoding``: beam search with and without reordering the encoder memory.

Beam search reorders the decoder state after every step so that each beam continues from its
parent's state. The encoder memory, its attention keys and the source mask hold ``k`` equal
copies of each source row, which no reordering changes, so ``beam_search`` leaves every tensor the
decoder hands back untouched (``decoding/beam.py``, ``_Untouched``). The other variant hands back
fresh views of the same tensors, which makes the search reorder all of them, as it did before.

The transliteration task's ``small`` and ``full`` models, with random weights (the ratio is per
decoder step; untrained models seldom end a word before ``max_len``, so they take more steps than
trained ones), decode CMUdict dev words with a beam of 5 in batches of 500, as ``evaluate`` does.
Both variants must return the same phonemes; the two are interleaved in one process (DESIGN.md
§3) and the table goes to RESULTS.md, between its own markers.

Examples::

    python -m benchmarks.decoding --threads 2
    python -m benchmarks.decoding --quick        # a smoke run, printed only
"""

from __future__ import annotations

import statistics

from rnnkit.decoding import map_state

from .measure import _timed
from .report import Experiment, environment
from .translit_models import PRESETS, TINY, preset_model

EXPERIMENT = Experiment("decoding", __doc__, "a tiny model and 20 words, printed only")


class Decoding:
    """One preset's model decoding a fixed list of words, with the memory reordered or not."""

    def __init__(self, preset: str, words: int, overrides: dict) -> None:
        built = preset_model(preset, overrides)
        self.model, self.objective = built.model.eval(), built.objective
        self.words = [entry.word for entry in built.data.dev][:words]

    def run(self, reorder_everything: bool) -> list[list[str]]:
        decoder = self.model.decoder
        step = decoder.step

        def step_handing_back_views(tokens, state):
            # new tensor objects on the same storage: the search reorders every one of them
            log_probs, state = step(tokens, state)
            return log_probs, map_state(lambda t: t.view_as(t), state)

        if reorder_everything:
            decoder.step = step_handing_back_views
        try:
            return self.objective.transliterate(self.model, self.words)
        finally:
            vars(decoder).pop("step", None)  # back to the class's method


def measure(preset: str, words: int, repeats: int, overrides: dict) -> tuple[float, float]:
    """Median seconds to decode the words: memory kept, memory reordered (interleaved)."""
    case = Decoding(preset, words, overrides)
    if case.run(False) != case.run(True):
        raise AssertionError(f"{preset}: the two variants decoded different phonemes")
    samples: dict[bool, list[float]] = {False: [], True: []}
    for round_ in range(repeats):
        for reorder in (False, True) if round_ % 2 == 0 else (True, False):
            samples[reorder].append(_timed(lambda r=reorder: case.run(r), 1))
    return statistics.median(samples[False]), statistics.median(samples[True])


def document(times: dict[str, tuple[float, float]], command: str, words: int, repeats: int) -> str:
    lines = [
        "## Beam search: the encoder memory left alone or reordered at every step",
        "",
        environment(command),
        f"- {words} CMUdict dev words, beam 5, batches of 500, random weights; median of {repeats}"
        " interleaved samples; both variants decode the same phonemes (checked)",
        "",
        "| model | s, memory left alone | s, every tensor reordered | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for preset, (kept, reordered) in times.items():
        lines.append(f"| `{preset}` | {kept:.2f} | {reordered:.2f} | {reordered / kept:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = EXPERIMENT.parser()
    parser.add_argument("--words", type=int, default=1000, help="dev words (default 1000)")
    args = EXPERIMENT.parse(parser, argv)
    words, repeats, overrides = args.words, args.repeats, {}
    if args.quick:
        words, repeats = 20, 1
        overrides = TINY
    times = {preset: measure(preset, words, repeats, overrides) for preset in PRESETS}
    body = document(times, args.command, words, repeats)
    return EXPERIMENT.publish(body, args.quick)


if __name__ == "__main__":
    main()
