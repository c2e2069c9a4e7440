"""The transliteration (G2P) task: data split, a tiny run that learns, prediction on odd input."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cli import main
from rnnkit.decoding import AttentionWindow
from rnnkit.tasks import get_task
from rnnkit.tasks.config import resolve_run_config
from rnnkit.tasks.run import (
    evaluate_trained,
    load_ensemble,
    load_trained,
    train_task,
    trained_gradient_flow,
    with_decoding,
)
from rnnkit.tasks.translit.objective import Alternative
from rnnkit.tasks.translit.task import compound_alternatives
from rnnkit.tasks.translit.words import (
    fold_accents,
    normalise_word,
    outside_alphabet,
    word_parts,
)

from .translit_helpers import LEXICON, tiny_run


def test_split_is_deterministic_and_disjoint(lexicon_file):
    task, run = tiny_run(lexicon_file)
    first, second = task.build_data(run.config), task.build_data(run.config)
    assert first.train == second.train and first.test == second.test
    test_words = {entry.word for entry in first.test}
    dev_words = {entry.word for entry in first.dev}
    assert len(test_words) == 2 and len(dev_words) == 2 and not test_words & dev_words
    letters = task.objective(run.config, first.metadata).letters
    train_words = {"".join(letters.decode(pair.letters)) for pair in first.train}
    assert len(train_words) == len(LEXICON) - 4
    assert not train_words & (test_words | dev_words)


def test_cmudict_split_sizes():
    task = get_task("translit")
    run = resolve_run_config(task, preset="small")
    data = task.build_data(run.config)
    assert len(data.test) == 12_000
    assert len(data.dev) == run.config.dev_eval_words  # scored during training
    test_words = {entry.word for entry in data.test}
    assert not test_words & {entry.word for entry in data.dev}


def test_a_tiny_run_learns_its_words(lexicon_file, tmp_path):
    torch.manual_seed(0)
    task, run = tiny_run(
        lexicon_file, max_steps=300, batch_size=8, lr=0.01, eval_every=300, progress=False
    )
    train_task(run, tmp_path / "run")
    trained = load_trained(task, tmp_path / "run")
    train_words = sorted(set(LEXICON) - {e.word for e in task.build_data(run.config).test}
                         - {e.word for e in task.build_data(run.config).dev})  # fmt: skip
    lines = task.predict(trained.model, trained.config, trained.metadata, train_words)
    correct = sum(line == f"{word}  {LEXICON[word]}" for word, line in zip(train_words, lines))
    assert correct >= 0.9 * len(train_words), lines
    metrics = evaluate_trained(trained, "test")
    assert set(metrics) == {"wer", "per"} and 0.0 <= metrics["wer"] <= 1.0
    # the training split is scored by word, each word against all its pronunciations
    assert evaluate_trained(trained, "train")["wer"] == pytest.approx(
        1 - correct / len(train_words)
    )
    # `rnnkit gradflow --model`: the task's loss on dev words, as pairs the loss reads
    flow = trained_gradient_flow(trained, batch_size=2)
    assert flow.loss > 0 and flow.layers

    lines = task.report(trained, tmp_path / "run")
    assert lines[0].startswith("test (2 words never seen in training, beam 2): WER ")
    assert (tmp_path / "run" / "attention.png").stat().st_size > 1000
    assert any("(not in the dictionary)" in line for line in lines)
    assert f"predict translit --model {tmp_path / 'run'} hello" in lines[-1]


def test_predict_normalises_and_refuses_unknown_characters(lexicon_file, tmp_path):
    task, run = tiny_run(lexicon_file, max_steps=1, batch_size=4, progress=False)
    train_task(run, tmp_path / "run")
    trained = load_trained(task, tmp_path / "run")
    lines = task.predict(
        trained.model,
        trained.config,
        trained.metadata,
        ["CAT", "Cat’s", "cat-bat", "tøp", "--", "BÄT"],
    )
    assert len(lines) == 6
    assert lines[0].startswith("CAT  ") and len(lines[0].split()) > 1
    assert lines[1].startswith("Cat’s  ")
    # A compound is said part by part: the parts' phonemes, concatenated.
    cat, bat = (line.split("  ")[1] for line in task.predict(
        trained.model, trained.config, trained.metadata, ["cat", "bat"]))  # fmt: skip

    # This untrained model never writes </s>: each line says where its phonemes were cut.
    def cut(*words):
        notes = (f"cut at 32 phonemes: the model never ended {word!r}" for word in words)
        return f"  ({'; '.join(notes)})"

    assert lines[2] == f"cat-bat  {cat} {bat}{cut('cat', 'bat')}"
    assert lines[3].startswith("tøp  cannot transliterate: 'ø' not in")
    assert "nothing to transliterate" in lines[4]
    assert lines[5] == f"BÄT  {bat}{cut('bat')}"  # an accent the alphabet lacks is dropped


def test_each_cut_part_of_a_compound_is_named_with_its_own_limit(lexicon_file, tmp_path):
    task, run = tiny_run(lexicon_file, max_steps=1, batch_size=4, progress=False)
    train_task(run, tmp_path / "run")
    trained = load_trained(task, tmp_path / "run")
    long_part = "bat" * 7  # 21 letters: a limit of 42 phonemes, where "cat" has max_len (32)
    [line] = task.predict(trained.model, trained.config, trained.metadata, [f"cat-{long_part}"])
    assert line.endswith(
        "  (cut at 32 phonemes: the model never ended 'cat'; "
        f"cut at 42 phonemes: the model never ended {long_part!r})"
    )


def test_an_upper_case_lexicon_is_lower_cased_as_predict_reads_words(tmp_path):
    upper = tmp_path / "upper.tsv"
    upper.write_text("".join(f"{w.upper()}\t{p}\n" for w, p in LEXICON.items()) + "Cat\tK AA T\n")
    task, run = tiny_run(upper, max_steps=1, batch_size=4, progress=False)
    train_task(run, tmp_path / "run")
    trained = load_trained(task, tmp_path / "run")
    assert (
        "c" in trained.metadata["letters"]["tokens"]
        and "C" not in trained.metadata["letters"]["tokens"]
    )
    [line] = task.predict(trained.model, trained.config, trained.metadata, ["CAT"])
    assert "cannot transliterate" not in line


def test_runs_decode_together_as_an_ensemble(lexicon_file, tmp_path, capsys):
    settings = {"max_steps": 60, "batch_size": 8, "lr": 0.01, "eval_every": 60, "progress": False}
    task, first = tiny_run(lexicon_file, seed=0, **settings)
    _, second = tiny_run(lexicon_file, seed=1, **settings)
    a, b = tmp_path / "a", tmp_path / "b"
    train_task(first, a)
    train_task(second, b)
    # A run decoded together with itself says exactly what it says alone.
    alone = evaluate_trained(load_trained(task, a), "test")
    assert evaluate_trained(load_ensemble(task, [a, a]), "test") == alone

    assert main(["eval", "translit", "--model", str(a), "--model", str(b)]) == 0
    out = capsys.readouterr().out
    assert f"ensemble of {a / 'best'} + {b / 'best'}" in out and "wer" in out
    assert main(["eval", "translit", "--model", str(a), "--model", str(b / "best"),
                 "--report", str(tmp_path / "report")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert f"predict translit --model {a} --model {b} hello" in out
    assert (tmp_path / "report" / "attention.png").is_file()
    assert main(["predict", "translit", "--model", str(a), "--model", str(b), "Cat", "tøp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Cat  ") and len(lines[0].split()) > 1
    assert lines[1].startswith("tøp  cannot transliterate")

    _, other_split = tiny_run(lexicon_file, data_seed=1, max_steps=1, batch_size=4, progress=False)
    train_task(other_split, tmp_path / "c")
    with pytest.raises(ValueError, match=r"trained on other data .*data_seed=1 \(first: 0\)"):
        load_ensemble(task, [a, tmp_path / "c"])


def test_decoding_keeps_attention_in_a_window_unless_switched_off(lexicon_file):
    task, run = tiny_run(lexicon_file)
    metadata = task.build_data(run.config).metadata
    assert task.objective(run.config, metadata).window == AttentionWindow()
    _, plain = tiny_run(lexicon_file, config=["attention_window=false"])
    objective = task.objective(plain.config, metadata)
    assert objective.window is None
    # a word longer than max_len / 2 letters gets room for two phonemes a letter
    assert objective.decoding_length(["cat"]) == plain.config.max_len == 32
    assert objective.decoding_length(["cat", "x" * 40]) == 80


def test_a_word_is_said_the_same_alone_or_beside_a_long_word(lexicon_file, tmp_path):
    task, run = tiny_run(lexicon_file, max_steps=1, batch_size=4, progress=False)
    train_task(run, tmp_path / "run")
    trained = load_trained(task, tmp_path / "run")
    objective = task.objective(trained.config, trained.metadata)
    long = "cat" * 20
    alone = objective.transliterate(trained.model, ["cat", "bat"])
    assert max(len(said) for said in alone) == 32  # an untrained model runs to max_len ...
    beside = objective.transliterate(trained.model, ["cat", long, "bat"])
    assert [beside[0], beside[2]] == alone  # ... whatever it is decoded with
    assert 32 < len(beside[1]) <= 2 * len(long)


def test_eval_and_predict_may_change_how_a_model_decodes_and_nothing_else(
    lexicon_file, tmp_path, capsys
):
    task, run = tiny_run(lexicon_file, max_steps=1, batch_size=4, progress=False)
    train_task(run, tmp_path / "run")
    trained = load_trained(task, tmp_path / "run")
    changed = with_decoding(trained, ["beam_size=1", "attention_window=false"])
    assert changed.config.beam_size == 1 and changed.config.attention_window is False
    assert changed.model is trained.model and trained.config.beam_size == 2
    model = str(tmp_path / "run")
    assert main(["eval", "translit", "--model", model, "--set", "max_len=40"]) == 0
    assert "test wer" in capsys.readouterr().out
    for setting, message in (
        ("hidden_size=8", "--set hidden_size: fixed by the trained model; eval and predict can "
         "set beam_size, nbest, max_len, attention_window"),
        ("colour=red", "--set colour: not a setting of task translit"),
        ("beam_size=0", "beam_size must be positive"),
    ):  # fmt: skip
        assert main(["predict", "translit", "--model", model, "--set", setting, "cat"]) == 2
        assert message in capsys.readouterr().err


def test_predict_lists_the_most_probable_pronunciations_and_eval_scores_them(
    lexicon_file, tmp_path, capsys
):
    torch.manual_seed(0)
    task, run = tiny_run(
        lexicon_file, max_steps=60, batch_size=8, lr=0.01, eval_every=60, progress=False
    )
    train_task(run, tmp_path / "run")
    trained = load_trained(task, tmp_path / "run")
    objective = task.objective(trained.config, trained.metadata)  # beam 2
    words = ["cat", "tip", "map's", "pat"]
    best = objective.transliterate(trained.model, words)
    for n in (2, 3):  # n = 3 widens the beam
        for word, options in zip(words, objective.alternatives(trained.model, words, n)):
            probabilities = [o.probability for o in options]
            assert len(options) == n and len({tuple(o.phonemes) for o in options}) == n, word
            assert probabilities == sorted(probabilities, reverse=True)
            assert probabilities[-1] > 0 and sum(probabilities) <= 1 + 1e-6
            if n == 2:
                assert options[0].phonemes == best[words.index(word)]

    model = str(tmp_path / "run")
    assert (
        main(["predict", "translit", "--model", model, "--set", "nbest=2", "cat", "cat-tip"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0].startswith("cat  ") and lines[1].startswith("     ")
    assert lines[2].startswith("cat-tip  ") and lines[3].startswith(" " * len("cat-tip  "))
    assert all(line.endswith("%)") for line in lines)
    assert main(["eval", "translit", "--model", model, "--set", "nbest=2"]) == 0
    assert "test wer@2: " in capsys.readouterr().out
    plain = evaluate_trained(trained, "train")
    listed = evaluate_trained(with_decoding(trained, ["nbest=2"]), "train")
    assert listed["wer"] == plain["wer"] and listed["per"] == plain["per"]
    assert listed["wer@2"] <= plain["wer"]  # a word right at the top is right among the two


def test_a_compound_gets_the_most_probable_combinations_of_its_parts():
    said = {
        "a": [Alternative(["A"], True, 0.6), Alternative(["AA"], True, 0.3)],
        "b": [Alternative(["B"], True, 0.5), Alternative(["BB"], False, 0.45)],
    }
    # All four combinations: A B 0.30, A BB 0.27, AA B 0.15, AA BB 0.135.
    got = compound_alternatives(["a", "b"], said, 3)
    assert [(phonemes, cut) for phonemes, _, cut in got] == [
        (["A", "B"], []), (["A", "BB"], ["b"]), (["AA", "B"], [])
    ]  # fmt: skip
    assert [p for _, p, _ in got] == pytest.approx([0.30, 0.27, 0.15])
    assert compound_alternatives(["b"], said, 1) == [(["B"], 0.5, [])]


def test_word_normalisation():
    assert normalise_word("  Don’t, ") == "don't"
    assert normalise_word("X\u2013Ray") == "x-ray"
    assert word_parts("well-known") == ["well", "known"]
    assert word_parts("a--b") == ["a", "b"]
    assert outside_alphabet("naïve", set("abcdefghijklmnopqrstuvwxyz")) == ["ï"]


def test_accents_fold_only_where_the_alphabet_lacks_them():
    english = set("abcdefghijklmnopqrstuvwxyz'-")
    assert fold_accents("naïve", english) == "naive"
    assert fold_accents("résumé", english) == "resume"
    assert fold_accents("\ufb01ancé", english) == "fiance"  # a ligature becomes its letters
    assert fold_accents("smørrebrød", english) == "smørrebrød"  # ø has no unaccented form
    assert fold_accents("straße", english) == "straße"
    german = english | {"ä"}
    assert fold_accents("bär", german) == "bär"  # a letter the model knows is kept
    assert fold_accents("café", german) == "cafe"
    # a letter and a separate combining accent (NFD) read as the accented letter
    assert fold_accents("cafe\u0301", english) == "cafe"
    assert fold_accents("ba\u0308r", german) == "bär"
    assert fold_accents("x\u0301", english) == "x"  # an accent no letter takes is dropped
