import doctest
import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import rnnkit.data.vocab
from rnnkit.data.vocab import Vocab


def test_docstring_example_runs():
    assert doctest.testmod(rnnkit.data.vocab).failed == 0


def test_default_special_ids():
    v = Vocab(["a", "b"])
    assert (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3)
    assert v.tokens == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b"]
    assert len(v) == 6


def test_disabled_special_shifts_ids_and_has_no_id():
    v = Vocab(["a"], bos=None, name="phonemes")
    assert (v.pad_id, v.eos_id, v.unk_id) == (0, 1, 2)
    assert v.token_to_id("a") == 3
    with pytest.raises(ValueError, match="'phonemes' has no bos"):
        _ = v.bos_id


def test_encode_decode_round_trip():
    v = Vocab.build([list("hello"), list("world")])
    ids = v.encode(list("lower"), add_bos=True, add_eos=True)
    assert ids[0] == v.bos_id and ids[-1] == v.eos_id
    assert v.decode(ids) == list("lower")
    assert v.decode(ids, strip=False) == ["<bos>", *"lower", "<eos>"]


def test_decode_stops_at_eos_drops_pad_and_bos_keeps_unk():
    v = Vocab(["x", "y"])
    x, y = v.token_to_id("x"), v.token_to_id("y")
    row = torch.tensor([v.bos_id, x, v.pad_id, v.unk_id, y, v.eos_id, x, v.pad_id])
    assert v.decode(row) == ["x", "<unk>", "y"]


def test_unknown_token_maps_to_unk():
    v = Vocab(["a"])
    assert v.encode(["a", "zzz"]) == [4, v.unk_id]


def test_unknown_token_without_unk_names_token_and_vocab():
    v = Vocab(["AA", "B"], unk=None, name="phonemes")
    with pytest.raises(ValueError, match=r"'QQ' is not in vocab 'phonemes'"):
        v.encode(["AA", "QQ"])


def test_build_counts_min_freq_and_orders_by_frequency_then_token():
    seqs = [["b", "a", "c"], ["a", "d"], ["b", "a"]]
    v = Vocab.build(seqs, min_freq=2)
    assert v.tokens[4:] == ["a", "b"]  # a: 3, b: 2; c and d are below min_freq
    assert Vocab.build(seqs).tokens[4:] == ["a", "b", "c", "d"]
    assert Vocab.build(reversed(seqs)) == Vocab.build(seqs)
    assert Vocab.build(seqs, max_size=1).tokens[4:] == ["a"]


def test_build_skips_tokens_equal_to_specials():
    v = Vocab.build([["<pad>", "a", "<eos>"]])
    assert v.tokens == ["<pad>", "<bos>", "<eos>", "<unk>", "a"]


def test_strings_are_refused_where_token_sequences_are_expected():
    with pytest.raises(TypeError, match="list\\(text\\)"):
        Vocab.build(["K AE T"])
    with pytest.raises(TypeError, match="string 'cat'"):
        Vocab(["c", "a", "t"]).encode("cat")


def test_duplicate_tokens_and_bad_ids_raise():
    with pytest.raises(ValueError, match="'a' appears twice"):
        Vocab(["a", "b", "a"])
    with pytest.raises(ValueError, match="appears twice"):
        Vocab(["<unk>"])
    with pytest.raises(ValueError, match="id 9 is out of range for vocab 'v' of size 5"):
        Vocab(["a"], name="v").decode([9])


def test_json_round_trip_through_text():
    v = Vocab.build([["K", "AE", "T"]], unk=None, bos="<s>", name="phonemes")
    restored = Vocab.from_json(json.loads(json.dumps(v.to_json())))
    assert restored == v
    assert restored.name == "phonemes"
    assert restored.specials == {"pad": "<pad>", "bos": "<s>", "eos": "<eos>"}
    assert restored.encode(["K", "T"]) == v.encode(["K", "T"])


def test_from_json_rejects_malformed_dicts():
    good = Vocab(["a"]).to_json()
    with pytest.raises(ValueError, match="expected keys"):
        Vocab.from_json({**good, "extra": 1})
    with pytest.raises(ValueError, match="version"):
        Vocab.from_json({**good, "version": 99})
    with pytest.raises(ValueError, match="'specials' must map"):
        Vocab.from_json({**good, "specials": {"pad": "<pad>"}})
    with pytest.raises(TypeError, match="'tokens' must be a list"):
        Vocab.from_json({**good, "tokens": "abc"})


# Tokens drawn from an alphabet without "<", so that no token spells a special.
tokens = st.text(alphabet="abcXYZ'-.", min_size=1, max_size=3)


@given(st.lists(st.lists(tokens, max_size=6), min_size=1, max_size=5))
def test_round_trip_property(sequences):
    v = Vocab.build(sequences)
    for seq in sequences:
        assert v.decode(v.encode(seq, add_bos=True, add_eos=True)) == seq
    assert Vocab.from_json(v.to_json()) == v
