import pytest

from rnnkit.metrics import format_g2p_scores, g2p_scores

CAT = ("K", "AE", "T")


def test_all_correct():
    scores = g2p_scores([list(CAT)], [[CAT]])
    assert scores["wer"] == 0.0 and scores["per"] == 0.0


def test_correct_if_any_reference_matches():
    refs = [[("R", "EH", "D"), ("R", "IY", "D")]]
    assert g2p_scores([["R", "IY", "D"]], refs)["wer"] == 0.0
    assert g2p_scores([["R", "EH", "D"]], refs)["wer"] == 0.0


def test_per_uses_the_closest_reference_and_its_length():
    # Distances: 3 to the first reference (length 3), 1 to the second (length 5).
    refs = [[("A", "B", "C"), ("X", "Y", "Z", "W", "V")]]
    scores = g2p_scores([["X", "Y", "Z", "W"]], refs)
    assert scores["phoneme_edits"] == 1 and scores["reference_phonemes"] == 5
    assert scores["per"] == pytest.approx(1 / 5)
    assert scores["wer"] == 1.0


def test_tie_takes_the_first_listed_reference():
    # "A" is at distance 1 from both; the first (length 2) gives the denominator.
    scores = g2p_scores([["A"]], [[("A", "B"), ("C",)]])
    assert (scores["phoneme_edits"], scores["reference_phonemes"]) == (1, 2)


def test_empty_prediction_costs_the_reference_length():
    scores = g2p_scores([[]], [[("D", "AO", "G"), ("D", "AA", "G", "Z")]])
    assert scores["per"] == 1.0 and scores["wer"] == 1.0
    assert scores["phoneme_edits"] == 3


def test_corpus_level_ratios_over_several_words():
    predictions = [list(CAT), [], ["R", "EH", "D"], ["B", "AO", "T"]]
    references = [
        [CAT],
        [("D", "AO", "G")],
        [("R", "IY", "D"), ("R", "EH", "D")],
        [("B", "OW", "T")],
    ]
    scores = g2p_scores(predictions, references)
    assert scores["words"] == 4 and scores["word_errors"] == 2
    assert scores["wer"] == pytest.approx(2 / 4)
    # Edits 0 + 3 + 0 + 1 over reference lengths 3 + 3 + 3 + 3.
    assert scores["per"] == pytest.approx(4 / 12)
    assert format_g2p_scores(scores) == "WER 50.00%  PER 33.33%  (4 words)"


def test_bad_input():
    with pytest.raises(ValueError, match="2 predictions and 1 reference lists"):
        g2p_scores([[], []], [[CAT]])
    with pytest.raises(ValueError, match="no words"):
        g2p_scores([], [])
    with pytest.raises(ValueError, match=r"references_list\[0\] must be a non-empty list"):
        g2p_scores([list(CAT)], [[]])
    with pytest.raises(TypeError, match=r"predictions\[0\].*string 'K AE T'"):
        g2p_scores(["K AE T"], [[CAT]])
    with pytest.raises(TypeError, match=r"references_list\[0\]\[1\]"):
        g2p_scores([list(CAT)], [[CAT, "K AA T"]])
    with pytest.raises(ValueError, match="PER is undefined"):
        g2p_scores([[]], [[()]])
