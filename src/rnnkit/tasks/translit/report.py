"""What ``rnnkit train translit`` shows at the end: test scores, examples, attention, next steps."""

from __future__ import annotations

from pathlib import Path

import torch

from ...diagnostics.attention import plot_attention
from ...metrics import format_g2p_scores, g2p_scores
from .data import Entry
from .objective import TranslitObjective

# Words to show that the dictionary does not have (checked at run time), and a few it has.
INVENTED = ("rnnkit", "pytorch", "blorptastic", "zoomability", "snarfle", "kwispy")
ATTENTION_WORDS = ("phoneme", "knight", "rnnkit", "thoroughly", "xylophone", "cough")
# A word said otherwise is marked where the dictionary's pronunciation stands among the model's
# most probable ones (the beam's n best), if among the first three.
GUESS_NOTES = ("", " (its 2nd guess)", " (its 3rd guess)")


def test_scores(objective: TranslitObjective, model, test: list[Entry]) -> dict:
    """WER and PER of ``model`` on the test words (beam search as configured)."""
    predictions = objective.transliterate(model, [e.word for e in test])
    return g2p_scores(predictions, [e.pronunciations for e in test])


def example_table(
    objective: TranslitObjective, model, test: list[Entry], known: set[str], count: int = 8
) -> list[str]:
    """Test words (never seen in training) beside their dictionary pronunciations, then words
    the dictionary does not have at all."""
    shown = [test[i * len(test) // count] for i in range(count)]
    invented = [w for w in INVENTED if w not in known]
    # No wider than the beam, so that the first guess is what the model says.
    guesses = min(len(GUESS_NOTES), objective.beam_size)
    found = objective.alternatives(model, [e.word for e in shown] + invented, guesses)
    lines = [f"{'word':<16} {'model says':<28} {'dictionary':<28}"]
    for entry, options in zip(shown, found, strict=False):
        ranks = [i for i, o in enumerate(options) if tuple(o.phonemes) in entry.pronunciations]
        reference = options[ranks[0]].phonemes if ranks else entry.pronunciations[0]
        mark = "ok" if ranks[:1] == [0] else "differs" + (GUESS_NOTES[ranks[0]] if ranks else "")
        said = " ".join(options[0].phonemes)
        lines.append(f"{entry.word:<16} {said:<28} {' '.join(reference):<28} {mark}")
    for word, options in zip(invented, found[len(shown) :], strict=True):
        said = " ".join(options[0].phonemes)
        lines.append(f"{word:<16} {said:<28} {'(not in the dictionary)':<28}")
    return lines


@torch.no_grad()
def attention_plot(objective: TranslitObjective, model, words, path: Path) -> Path:
    """Heatmaps of the decoder's attention over the letters of ``words``."""
    tokens, weights = objective.generate(
        model, words, objective.decoding_length(words), return_attention=True
    )
    panels = []
    for row, word in enumerate(words):
        output = objective.phonemes.decode(tokens[row])
        panels.append((list(word), output, weights[row]))
    return plot_attention(panels, path)


def report(
    objective: TranslitObjective,
    model,
    test: list[Entry],
    known_words: set[str],
    out_dir: Path,
    model_dirs: list[str],
) -> list[str]:
    """The lines printed after training: test scores, examples, the attention plot, next steps
    (``model_dirs``: what ``--model`` takes to load ``model`` again, several for an ensemble)."""
    scores = test_scores(objective, model, test)
    # Words spelled with the model's letters only (a user's lexicon may have another alphabet).
    words = [w for w in ATTENTION_WORDS if all(ch in objective.letters for ch in w)]
    words = words or [entry.word for entry in test[:3]]
    figure = attention_plot(objective, model, words, out_dir / "attention.png")
    return [
        f"test ({len(test)} words never seen in training, beam {objective.beam_size}): "
        + format_g2p_scores(scores),
        "",
        *example_table(objective, model, test, known_words),
        "",
        f"attention of the decoder over the letters: {figure}",
        "next: transliterate your own words with",
        "  .venv/bin/rnnkit predict translit "
        + "".join(f"--model {d} " for d in model_dirs)
        + "hello Transliteration",
    ]
