import pytest

from rnnkit.data.lexicon import (
    filter_words,
    lexicon_pairs,
    lower_case_words,
    parse_lexicon_lines,
    read_lexicon,
    remove_stress,
)

# A small file in the CMUdict layout with every feature the parser must handle.
CMUDICT_TEXT = """\
;;; a comment line in the style of release 0.7b
word W ER1 D
word(2) W ER0 D
read R EH1 D
read(2) R IY1 D   # the present tense

#hash-mark HH AE1 SH M AA2 R K
read(3) R IY2 D
abc AE1 B
"""


def test_remove_stress():
    assert remove_stress(["W", "ER1", "D", "AH0", "OW2"]) == ("W", "ER", "D", "AH", "OW")


def test_cmudict_file_groups_alternates_strips_stress_and_dedups(tmp_path):
    path = tmp_path / "mini.dict"
    path.write_text(CMUDICT_TEXT, encoding="utf-8")
    lexicon = read_lexicon(path)
    assert lexicon == {
        # "word" and "word(2)" differ only in stress: one pronunciation remains.
        "word": [("W", "ER", "D")],
        # read(3) is a stress-only duplicate of read(2); the comment is not a phoneme.
        "read": [("R", "EH", "D"), ("R", "IY", "D")],
        "#hash-mark": [("HH", "AE", "SH", "M", "AA", "R", "K")],
        "abc": [("AE", "B")],
    }
    assert list(lexicon) == ["word", "read", "#hash-mark", "abc"]  # file order


def test_stress_can_be_kept(tmp_path):
    path = tmp_path / "mini.dict"
    path.write_text(CMUDICT_TEXT, encoding="utf-8")
    lexicon = read_lexicon(path, strip_stress=False)
    assert lexicon["word"] == [("W", "ER1", "D"), ("W", "ER0", "D")]
    assert lexicon["read"] == [("R", "EH1", "D"), ("R", "IY1", "D"), ("R", "IY2", "D")]


def test_tsv_file(tmp_path):
    path = tmp_path / "lex.tsv"
    path.write_text("# word\tphones\ncat\tK AE1 T\ncat\tK AA T\r\n\ndog\tD AO G\n")
    assert read_lexicon(path, "tsv") == {
        "cat": [("K", "AE", "T"), ("K", "AA", "T")],
        "dog": [("D", "AO", "G")],
    }


@pytest.mark.parametrize(
    ("fmt", "text", "bad_line"),
    [
        ("cmudict", "word W ER1 D\nlonely\n", 2),
        ("cmudict", "a AH0\n\nb # only a comment\n", 3),
        ("tsv", "cat\tK AE T\ndog D AO G\n", 2),
        ("tsv", "cat\tK AE T\n\tK AE T\n", 2),
        ("tsv", "cat\t \n", 1),
        ("tsv", "cat\tK\tAE\n", 1),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, fmt, text, bad_line):
    path = tmp_path / f"bad.{fmt}"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"bad\.{fmt}:{bad_line}: expected"):
        read_lexicon(path, fmt)


def test_undecodable_bytes_name_file_and_line(tmp_path):
    path = tmp_path / "latin1.dict"
    path.write_bytes("cafe K AE F EY1\ncaf\u00e9 K AE F EY1\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.dict:2: the bytes are not valid utf-8"):
        read_lexicon(path)
    assert "caf\u00e9" in read_lexicon(path, encoding="latin-1")


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-8", b"\xef\xbb\xbf# made by hand\ncaf\xc3\xa9\tK AE F EY\n"),  # byte-order mark
        ("utf-16", "# made by hand\ncaf\u00e9\tK AE F EY\n".encode("utf-16")),
        ("utf-8", b"# made by hand\rcaf\xc3\xa9\tK AE F EY\r"),  # old Mac line ends
    ],
)
def test_byte_order_marks_utf16_and_every_line_end(tmp_path, encoding, data):
    path = tmp_path / "lex.tsv"
    path.write_bytes(data)
    assert read_lexicon(path, "tsv", encoding=encoding) == {"caf\u00e9": [("K", "AE", "F", "EY")]}


def test_a_bad_byte_after_lone_carriage_returns_names_its_line(tmp_path):
    path = tmp_path / "mac.dict"
    path.write_bytes(b"a AH0\rb B IY1\r\ncaf\xe9 K AE F EY1\r")
    with pytest.raises(ValueError, match=r"mac\.dict:3: the bytes are not valid utf-8"):
        read_lexicon(path)


def test_cmudict_layout_comment_lines_and_digit_only_phonemes(tmp_path):
    path = tmp_path / "mine.dict"
    path.write_text("# my lexicon, made in 2024\n#hash HH AE SH\nword W ER1 D\n")
    assert read_lexicon(path) == {"#hash": [("HH", "AE", "SH")], "word": [("W", "ER", "D")]}
    path.write_text("word W ER1 D\nyear Y 2024\n")
    with pytest.raises(ValueError, match=r"mine\.dict:2: a phoneme made of stress digits only"):
        read_lexicon(path)


def test_lower_case_words_merges_words_that_differ_only_in_case():
    lexicon = {"Read": [("R", "IY", "D")], "READ": [("R", "EH", "D"), ("R", "IY", "D")]}
    assert lower_case_words(lexicon) == {"read": [("R", "IY", "D"), ("R", "EH", "D")]}


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        read_lexicon(tmp_path / "x", "csv")
    with pytest.raises(FileNotFoundError):
        read_lexicon(tmp_path / "missing.dict")


def test_parse_lines_in_memory_names_the_source():
    assert parse_lexicon_lines(["a AH0"]) == {"a": [("AH",)]}
    with pytest.raises(ValueError, match="mine:1: expected"):
        parse_lexicon_lines(["a"], source="mine")


def test_filter_words_and_pairs():
    lexicon = {"ok": [("OW", "K")], "#hash": [("HH",)], "it's": [("IH", "T", "S"), ("IH", "S")]}
    kept = filter_words(lexicon, r"[a-z']+")
    assert list(kept) == ["ok", "it's"]
    assert lexicon_pairs(kept) == [
        ("ok", ("OW", "K")),
        ("it's", ("IH", "T", "S")),
        ("it's", ("IH", "S")),
    ]
