"""``python -m benchmarks --quick`` runs end to end on a tiny shape (no timing is asserted)."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import main, parse
from benchmarks.report import END, START, write_results
from benchmarks.variants import VARIANTS


def test_quick_run_prints_every_row_and_writes_the_results(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text(f"# Notes before\n\n{START}\nold table\n{END}\n\nnotes after, kept\n")
    body = main(["--quick", "--shapes", "2,3,4,4", "--repeats", "1", "--out", str(out)])
    for variant in VARIANTS:
        assert f"| {variant.name} |" in body
    assert "python -m benchmarks --quick --shapes 2,3,4,4" in body
    assert "torch threads:" in body and "torch 2." in body
    written = out.read_text()
    assert "old table" not in written and "| rk.GRU |" in written
    assert written.startswith("# Notes before") and written.rstrip().endswith("notes after, kept")


def test_write_results_creates_a_file(tmp_path):
    out = tmp_path / "new.md"
    write_results(out, "body")
    assert START in out.read_text() and "body" in out.read_text()


def test_options_are_checked():
    with pytest.raises(SystemExit):
        parse(["--shapes", "1,2,3"])
    with pytest.raises(SystemExit):
        parse(["--repeats", "0"])
    args = parse(["--quick"])
    assert args.out is None and args.repeats == 1


def test_seq2seq_quick_run_times_every_variant():
    from benchmarks import seq2seq

    body = seq2seq.main(["--quick", "--threads", "1"])
    for variant in seq2seq.VARIANTS:
        assert f"| {variant.name} |" in body
    assert "'hidden_size': 8" in body and "python -m benchmarks.seq2seq --quick" in body


def test_decoding_quick_run_times_both_variants_of_each_preset():
    from benchmarks import decoding

    body = decoding.main(["--quick", "--threads", "1"])
    for preset in decoding.PRESETS:
        assert f"| `{preset}` |" in body
    assert "python -m benchmarks.decoding --quick" in body


def test_optimizer_quick_run_times_every_kernel():
    from benchmarks import optimizer

    body = optimizer.main(["--quick", "--threads", "1"])
    for kernel in optimizer.KERNELS:
        assert f"ms, {kernel}" in body
    assert body.count("| `") == len(optimizer.PRESETS)


def test_workspaces_quick_run_measures_every_row_in_its_own_process():
    from benchmarks import workspaces
    from rnnkit.unroll import compiled

    if compiled.native_module() is None:
        pytest.skip("the compiled time loop could not be built here (no C++ compiler?)")
    body = workspaces.main(["--quick", "--threads", "1"])
    for name in workspaces.ROWS:
        assert f"| 4,10,8,8 | {name} |" in body
    assert "each row in a process of its own" in body


def test_collate_quick_run_times_every_way_and_the_step():
    from benchmarks import collate

    body = collate.main(["--quick", "--threads", "1"])
    for name in collate.PADDERS:
        assert f"| {name} |" in body
    assert f"({collate.STEP}: forward, backward, Adam)" in body


def test_dropout_quick_run_times_both_kernels_at_every_site():
    from benchmarks import dropout

    body = dropout.main(["--quick", "--threads", "1"])
    for site in dropout.sites({}, batch=256):
        assert f"| {site} |" in body
    assert "| one training step |" in body and "python -m benchmarks.dropout --quick" in body


def test_long_words_quick_run_scores_both_decodings_on_both_splits(tmp_path):
    from benchmarks import long_words

    figure = tmp_path / "long.png"
    body = long_words.main(["--quick", "--threads", "1", "--plot", str(figure)])
    assert figure.stat().st_size > 1000 and str(figure) in body
    for row in ("| no window |", "| attention window |"):
        assert body.count(row) == 2  # the dev table and the test table
    assert "| two words joined (20) |" in body.replace(" | s to decode |", " |")
    assert "within the window, 1 back to 3 ahead" in body


def test_long_words_joins_pairs_of_a_splits_words():
    from types import SimpleNamespace

    from benchmarks.long_words import LONG, word_sets

    entries = [
        SimpleNamespace(word="hot", pronunciations=[["HH", "AA", "T"]]),
        SimpleNamespace(word="dog", pronunciations=[["D", "AO", "G"], ["D", "AA", "G"]]),
        SimpleNamespace(word="x" * LONG, pronunciations=[["EH", "K", "S"]]),
    ]
    words, long, joined = word_sets(entries, pairs=50)
    assert words.words == ["hot", "dog", "x" * LONG] and long.words == ["x" * LONG]
    assert len(joined.words) == 50
    for word, references in zip(joined.words, joined.references, strict=True):
        first = next(e for e in entries if word.startswith(e.word))
        second = next(e for e in entries if word == first.word + e.word)
        assert len(references) == len(first.pronunciations) * len(second.pronunciations)
        assert tuple(first.pronunciations[0]) + tuple(second.pronunciations[-1]) in references
    assert word_sets(entries, pairs=50)[2].words == joined.words  # seeded
