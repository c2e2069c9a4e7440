"""``rnnkit train translit`` (alias ``g2p``): letters in, phonemes out, with a Seq2Seq model.

The model is the lecture's sequence-to-sequence transducer for transliteration: a bidirectional
LSTM reads the letters, an LSTM decoder with attention writes the phonemes, beam search picks
the output. Data: the CMU Pronouncing Dictionary (see :mod:`rnnkit.data.cmudict`), or any
lexicon file of the user's (``lexicon = "path"``, CMUdict or TSV format).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Literal

from torch import nn

from ... import Seq2Seq
from ...data import Vocab
from ...decoding import AttentionWindow
from ..base import Task, TaskData
from ..checks import check_positive
from ..run import run_directory
from .data import (
    build_vocabularies,
    evenly_spaced,
    load_splits,
    scoring_entries,
    training_pairs,
)
from .distill import SoftTargets, teacher_dirs
from .objective import Alternative, TranslitObjective
from .report import report
from .words import fold_accents, normalise_word, outside_alphabet, word_parts


@dataclasses.dataclass(frozen=True)
class TranslitConfig:
    """Knobs of the transliteration task.

    Attributes:
        embed_dim, hidden_size, num_layers, cell, attention, input_feeding, dropout: the
            Seq2Seq model (``hidden_size`` per direction of the bidirectional encoder;
            ``num_layers`` on both sides). Without input feeding, teacher forcing runs the
            decoder over all phonemes at once: several times faster training.
        label_smoothing: of the training cross-entropy.
        beam_size: beam width for evaluation and prediction (1 = greedy).
        nbest: how many pronunciations ``predict`` gives each word, the most probable first, with
            the model's probabilities (the beam is widened to ``nbest`` if narrower); ``eval``
            then also reports ``wer@nbest``, the share of words with none of them right.
        max_len: longest pronunciation generated, in phonemes (twice the letters of the longest
            word decoded, when that is more).
        attention_window: decode with an :class:`~rnnkit.decoding.AttentionWindow` (its
            defaults): attention moves along the word letter by letter, and the pronunciation
            ends only at the word's end. It keeps words longer than the training words whole.
        test_words, dev_words: words held out for the final test and for model selection.
        dev_eval_words: how many dev words are scored at each evaluation during training
            (spread evenly over the dev split; None = all of them).
        train_words: use only this many training words (None = all; for quick experiments).
        lexicon, lexicon_format: a lexicon file to use instead of CMUdict.
        data_seed: seed of the word split.
        teachers: comma-separated run directories of this task (trained on the same split)
            whose mean next-phoneme distributions the model learns besides the gold phonemes:
            knowledge distillation, e.g. of an ensemble into one model (None = none).
        distill_weight: the share of the teachers' term in the training loss.
    """

    embed_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    cell: Literal["lstm", "gru"] = "lstm"
    attention: Literal["luong", "luong_dot", "bahdanau"] = "luong"
    input_feeding: bool = True
    dropout: float = 0.0
    label_smoothing: float = 0.0
    beam_size: int = 5
    nbest: int = 1
    max_len: int = 32
    attention_window: bool = True
    test_words: int = 12_000
    dev_words: int = 3_000
    dev_eval_words: int | None = 1_000
    train_words: int | None = None
    lexicon: str | None = None
    lexicon_format: Literal["cmudict", "tsv"] = "cmudict"
    data_seed: int = 0
    teachers: str | None = None
    distill_weight: float = 0.5

    def __post_init__(self) -> None:
        sizes = ("embed_dim", "hidden_size", "num_layers", "beam_size", "nbest", "max_len")
        check_positive(self, *sizes, "test_words", "dev_words")
        check_positive(self, "dev_eval_words", "train_words", optional=True)
        for name in ("dropout", "label_smoothing"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"distill_weight must be in [0, 1], got {self.distill_weight}")
        if self.teachers is not None and not teacher_dirs(self.teachers):
            raise ValueError("teachers: no run directory given (comma-separated directories)")


class TranslitTask(Task):
    name = "translit"
    aliases = ("g2p", "transliteration")
    description = "machine transliteration: English spelling to phonemes on CMUdict (WER/PER)"
    Config = TranslitConfig
    # Both presets: no input feeding, so teacher forcing runs the decoder over all phonemes at
    # once, and batches of words of similar length (benchmarks.seq2seq: 2.2x faster together).
    configs: ClassVar[dict[str, dict[str, Any]]] = {
        # About 3.5 minutes on 2 CPU cores with AVX-512 (5-7 on AVX2-only ones): 8.6 epochs, the
        # learning rate annealed to zero.
        "small": {
            "input_feeding": False,
            "train": {
                "max_steps": 8_000,
                "batch_size": 128,
                "schedule": "cosine",
                "bucket": True,
                "eval_every": 1_000,
            },
        },
        # Best quality: about 1.5 hours on 2 CPU cores with AVX-512, 3.5 on AVX2-only ones (run
        # it in the background; --resume continues it), far less on a GPU (--device cuda).
        "full": {
            "embed_dim": 128,
            "hidden_size": 256,
            "num_layers": 2,
            "input_feeding": False,
            "dropout": 0.3,
            "label_smoothing": 0.1,
            "dev_eval_words": None,
            "train": {
                "max_steps": 24_000,
                "batch_size": 256,
                "lr": 3e-3,
                "schedule": "cosine",
                "warmup_steps": 500,
                "bucket": True,
                "eval_every": 3_000,
                "checkpoint_every": 1_000,
            },
        },
    }
    decoding_fields = ("beam_size", "nbest", "max_len", "attention_window")
    data_fields = (
        "test_words", "dev_words", "dev_eval_words", "train_words", "lexicon", "lexicon_format",
        "data_seed",
    )  # fmt: skip
    train_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 64,
        "lr": 3e-3,
        "clip_norm": 5.0,
        "eval_every": 1_000,
    }

    # -- data and model ---------------------------------------------------------------------------
    def build_data(self, config: TranslitConfig) -> TaskData:
        splits = load_splits(
            config.lexicon, config.lexicon_format, config.test_words, config.dev_words,
            config.data_seed,
        )  # fmt: skip
        train = splits["train"]
        train = {w: train[w] for w in evenly_spaced(list(train), config.train_words)}
        letters, phonemes = build_vocabularies(train)
        dev = evenly_spaced(scoring_entries(splits["dev"]), config.dev_eval_words)
        return TaskData(
            train=training_pairs(train, letters, phonemes),
            dev=dev,
            test=scoring_entries(splits["test"]),
            metadata={"letters": letters.to_json(), "phonemes": phonemes.to_json()},
            train_scored=scoring_entries(train),
            dev_for_loss=training_pairs(splits["dev"], letters, phonemes),
        )

    def build_model(self, config: TranslitConfig, metadata: dict[str, Any]) -> nn.Module:
        letters, phonemes = vocabularies(metadata)
        return Seq2Seq(
            src_vocab=len(letters),
            tgt_vocab=len(phonemes),
            embed_dim=config.embed_dim,
            hidden_size=config.hidden_size,
            cell=config.cell,
            num_layers=config.num_layers,
            bidirectional=True,
            attention=config.attention,
            input_feeding=config.input_feeding,
            pad_id=phonemes.pad_id,
            bos_id=phonemes.bos_id,
            eos_id=phonemes.eos_id,
            dropout=config.dropout,
        )

    def objective(self, config: TranslitConfig, metadata: dict[str, Any]) -> TranslitObjective:
        letters, phonemes = vocabularies(metadata)
        return TranslitObjective(
            letters,
            phonemes,
            beam_size=config.beam_size,
            nbest=config.nbest,
            max_len=config.max_len,
            window=AttentionWindow() if config.attention_window else None,
            label_smoothing=config.label_smoothing,
            distill=SoftTargets(self, config.teachers, config, metadata)
            if config.teachers
            else None,
            distill_weight=config.distill_weight,
        )

    def chance(self, config: TranslitConfig) -> dict[str, float]:
        # A model that learned nothing gets every word wrong; PER of an empty output is 100%.
        return {"wer": 1.0, "per": 1.0}

    def report(self, trained, out_dir) -> list[str]:
        """Test WER/PER, example words (unseen and invented), an attention plot, next steps."""
        config = trained.config
        # Only the test words and the set of known words are needed: no training pairs to encode.
        splits = load_splits(
            config.lexicon, config.lexicon_format, config.test_words, config.dev_words,
            config.data_seed,
        )  # fmt: skip
        known = {word for part in splits.values() for word in part}
        objective = self.objective(config, trained.metadata)
        test = scoring_entries(splits["test"])
        model_dirs = [str(run_directory(p)) for p in trained.members or [trained.checkpoint]]
        return report(objective, trained.model, test, known, Path(out_dir), model_dirs)

    # -- prediction -------------------------------------------------------------------------------
    def predict(
        self, model: nn.Module, config: TranslitConfig, metadata: dict[str, Any], inputs: list[str]
    ) -> list[str]:
        """Each input line may hold several words; each word gets one line ``word  P H O N E S``
        (and a note when the model never ended the word: its phonemes are cut at the limit), or
        with ``nbest`` > 1 that many lines, the most probable first, each with its probability.

        Case, accents the model's alphabet lacks, typographic apostrophes and dashes are
        normalised; a hyphenated compound is said part by part. A word with characters outside
        the model's alphabet gets a line saying which characters, instead of a guess.
        """
        objective = self.objective(config, metadata)
        alphabet = set(objective.letters.tokens) - set(objective.letters.specials.values())
        words = [word for line in inputs for word in line.split()]
        prepared = [_prepare(raw, alphabet) for raw in words]
        to_say = list(
            dict.fromkeys(p for parts in prepared if isinstance(parts, list) for p in parts)
        )
        n = config.nbest
        said = dict(zip(to_say, objective.alternatives(model, to_say, n), strict=True))
        lines = []
        for raw, parts in zip(words, prepared, strict=True):
            if isinstance(parts, str):  # a message: the word cannot be transliterated
                lines.append(parts)
                continue
            for rank, (phonemes, probability, cut) in enumerate(
                compound_alternatives(parts, said, n)
            ):
                line = f"{raw if rank == 0 else ' ' * len(raw)}  {' '.join(phonemes)}"
                if n > 1:
                    line += f"  ({probability:.1%})"
                if cut:  # each part has its own limit (decoding_length)
                    notes = (
                        f"cut at {objective.decoding_length([part])} phonemes: "
                        f"the model never ended {part!r}"
                        for part in cut
                    )
                    line += f"  ({'; '.join(notes)})"
                lines.append(line)
        return lines


def compound_alternatives(
    parts: list[str], said: dict[str, list[Alternative]], n: int
) -> list[tuple[list[str], float, list[str]]]:
    """The ``n`` most probable pronunciations of a word said part by part (a hyphenated compound),
    from each part's ``n`` best: (phonemes, probability, the parts the model never ended).

    Keeping the n best after each part is exact: a prefix outside the n best has n better
    ones, and each of them extended by the same rest is better too."""
    combined: list[tuple[list[str], float, list[str]]] = [([], 1.0, [])]
    for part in parts:
        extended = [
            (
                phonemes + option.phonemes,
                p * option.probability,
                cut + ([] if option.ended else [part]),
            )
            for phonemes, p, cut in combined
            for option in said[part]
        ]
        combined = sorted(extended, key=lambda c: -c[1])[:n]
    return combined


def _prepare(raw: str, alphabet: set[str]) -> list[str] | str:
    """The parts of ``raw`` to transliterate, or the message that says why it cannot be."""
    word = fold_accents(normalise_word(raw), alphabet)
    unknown = outside_alphabet(word.replace("-", ""), alphabet)
    if unknown:
        shown = " ".join(repr(ch) for ch in unknown)
        return (
            f"{raw}  cannot transliterate: {shown} not in the model's alphabet "
            f"({''.join(sorted(alphabet))})"
        )
    return word_parts(word) or f"{raw}  (nothing to transliterate)"


def vocabularies(metadata: dict[str, Any]) -> tuple[Vocab, Vocab]:
    """The letter and phoneme vocabularies saved in a run's metadata."""
    return Vocab.from_json(metadata["letters"]), Vocab.from_json(metadata["phonemes"])
