"""Fixtures of the task tests."""

from __future__ import annotations

import pytest

from .translit_helpers import LEXICON


@pytest.fixture(scope="module")
def lexicon_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lexicon") / "tiny.tsv"
    path.write_text("".join(f"{word}\t{pron}\n" for word, pron in LEXICON.items()))
    return path
