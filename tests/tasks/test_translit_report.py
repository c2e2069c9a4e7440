"""The transliteration report's table of example words: where the right pronunciation stands."""

from __future__ import annotations

from rnnkit.tasks.translit.data import Entry
from rnnkit.tasks.translit.objective import Alternative
from rnnkit.tasks.translit.report import INVENTED, example_table

GUESSES = {  # what a model might say for each word, most probable first
    "cat": ["K AE T", "K AA T", "K EY T"],
    "read": ["R EH D", "R IY D", "R EY D"],
    "lanfear": ["L AE N F IH R", "L AE N F IY R", "L AE N F ER"],
    "dreis": ["D R AY Z", "D R AY S", "D R EY Z"],
}
DICTIONARY = [
    Entry("cat", [("K", "AE", "T")]),
    Entry("read", [("R", "EH", "D"), ("R", "IY", "D")]),
    Entry("lanfear", [("L", "AE", "N", "F", "ER")]),
    Entry("dreis", [("D", "R", "IY", "Z")]),
]


class Guesser:
    """Stands in for the task's objective: fixed guesses, as many as asked for."""

    def __init__(self, guesses: dict[str, list[str]], beam_size: int) -> None:
        self.guesses, self.beam_size = guesses, beam_size

    def alternatives(self, model, words, n):
        assert n <= self.beam_size  # never a wider beam than the one the test score used
        return [[Alternative(g.split(), True, 0.1) for g in self.guesses[w][:n]] for w in words]


def table(guesses: dict[str, list[str]], beam_size: int = 5) -> list[str]:
    lines = example_table(Guesser(guesses, beam_size), None, DICTIONARY, set(INVENTED), count=4)
    return [" ".join(line.split()) for line in lines[1:]]


def test_a_wrong_word_says_where_the_right_pronunciation_stands_among_the_guesses():
    assert table(GUESSES) == [
        "cat K AE T K AE T ok",
        "read R EH D R EH D ok",
        "lanfear L AE N F IH R L AE N F ER differs (its 3rd guess)",
        "dreis D R AY Z D R IY Z differs",
    ]
    # A beam of 2 holds two guesses only: the third is not seen.
    assert table(GUESSES, beam_size=2)[2] == "lanfear L AE N F IH R L AE N F ER differs"
    # Beside a wrong guess the dictionary column shows the pronunciation the model found later.
    read_otherwise = GUESSES | {"read": ["R EY D", "R IY D", "R EH D"]}
    assert table(read_otherwise)[1] == "read R EY D R IY D differs (its 2nd guess)"
