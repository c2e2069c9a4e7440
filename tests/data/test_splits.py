import pytest

from rnnkit.data.splits import split_keys

KEYS = [f"w{i:04d}" for i in range(1000)]


def test_sizes_disjoint_and_complete():
    parts = split_keys(KEYS, {"test": 120, "dev": 30})
    assert [len(parts[k]) for k in ("test", "dev", "train")] == [120, 30, 850]
    assert set(parts["test"]) | set(parts["dev"]) | set(parts["train"]) == set(KEYS)
    assert not set(parts["test"]) & set(parts["dev"])
    assert not set(parts["train"]) & (set(parts["test"]) | set(parts["dev"]))
    assert all(part == sorted(part) for part in parts.values())


def test_depends_only_on_key_set_and_seed():
    parts = split_keys(KEYS, {"test": 100})
    # Order and duplicates of the input do not matter.
    assert split_keys(reversed(KEYS + KEYS[:10]), {"test": 100}) == parts
    assert split_keys(KEYS, {"test": 100}, seed=1) != parts
    # The test part is a random sample, not a block of neighbouring keys.
    assert parts["test"] != KEYS[:100] and parts["test"] != KEYS[-100:]


def test_bad_sizes():
    with pytest.raises(ValueError, match="need 1001 keys, but there are only 1000"):
        split_keys(KEYS, {"test": 1000, "dev": 1})
    with pytest.raises(ValueError, match="size of 'dev' must be >= 0"):
        split_keys(KEYS, {"dev": -1})
    with pytest.raises(ValueError, match="rest='train' is also a key"):
        split_keys(KEYS, {"train": 5})
