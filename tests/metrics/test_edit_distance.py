import torch
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.metrics import edit_distance


def reference_levenshtein(a, b):
    """The textbook dynamic programme, one row at a time."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        cur = [i]
        for j, y in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_known_distances():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance(["K", "AE", "T"], ["K", "AE", "T"]) == 0
    assert edit_distance(["K", "AE", "T"], ["K", "AA", "T", "S"]) == 2
    assert edit_distance([], ["D", "AO", "G"]) == 3
    assert edit_distance(("AH",), []) == 1
    # Multi-character tokens are single symbols: one substitution, not two.
    assert edit_distance(["AA"], ["AE"]) == 1


def test_tensors_compare_by_value():
    assert edit_distance(torch.tensor([4, 5, 6]), torch.tensor([4, 5, 6])) == 0
    assert edit_distance(torch.tensor([4, 5, 6]), [4, 6]) == 1


tokens = st.lists(st.sampled_from(["AA", "AE", "B", "K", "T"]), max_size=8)


@given(tokens, tokens)
def test_matches_reference_dynamic_programme(a, b):
    assert edit_distance(a, b) == reference_levenshtein(a, b) == edit_distance(b, a)
