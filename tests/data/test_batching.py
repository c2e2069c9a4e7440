import random

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from rnnkit.data.batching import BucketBatchSampler, pad_batch, teacher_forcing_batch


def test_pad_batch_values_and_lengths():
    ids, lengths = pad_batch([[5, 6, 7], [8], []], pad_id=0)
    assert ids.dtype == torch.long and lengths.dtype == torch.long
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert lengths.tolist() == [3, 1, 0]


def test_pad_batch_accepts_tensors_and_uses_pad_id():
    ids, lengths = pad_batch([torch.tensor([1, 2]), (3,)], pad_id=-1)
    assert ids.tolist() == [[1, 2], [3, -1]]
    assert lengths.tolist() == [2, 1]


def test_pad_batch_matches_torch_pad_sequence_and_leaves_its_input_alone():
    rng = random.Random(0)
    for _ in range(20):
        rows = [[rng.randrange(50) for _ in range(rng.randrange(1, 12))] for _ in range(16)]
        given = [list(row) for row in rows]
        mixed = [torch.tensor(row) if i % 3 == 0 else tuple(row) for i, row in enumerate(rows)]
        expected = pad_sequence([torch.tensor(r) for r in rows], batch_first=True, padding_value=7)
        for seqs in (rows, mixed):
            ids, lengths = pad_batch(seqs, pad_id=7)
            assert torch.equal(ids, expected)
            assert lengths.tolist() == [len(r) for r in rows]
        assert rows == given  # the caller's lists are not padded in place


def test_pad_batch_bad_input():
    with pytest.raises(ValueError, match="seqs is empty"):
        pad_batch([], pad_id=0)
    with pytest.raises(ValueError, match=r"seqs\[1\] must be 1-D.*\(2, 2\)"):
        pad_batch([[1], [[1, 2], [3, 4]]], pad_id=0)
    with pytest.raises(ValueError, match=r"seqs\[1\] must be 1-D.*shape \(2, 2\)"):
        pad_batch([[1], torch.zeros(2, 2, dtype=torch.long)], pad_id=0)
    with pytest.raises(ValueError, match=r"seqs\[0\] must be 1-D.*got str"):
        pad_batch(["abc"], pad_id=0)
    with pytest.raises(ValueError, match=r"seqs\[0\] must be 1-D.*got int"):
        pad_batch([3, 4], pad_id=0)
    with pytest.raises(ValueError, match=r"seqs\[1\] must hold integer ids, got \[None\]"):
        pad_batch([[1], [None]], pad_id=0)


def test_teacher_forcing_batch_shifts_by_one():
    tgt_in, tgt_out, lengths = teacher_forcing_batch([[7, 8], [9]], pad_id=0, bos_id=1, eos_id=2)
    assert tgt_in.tolist() == [[1, 7, 8], [1, 9, 0]]
    assert tgt_out.tolist() == [[7, 8, 2], [9, 2, 0]]
    assert lengths.tolist() == [3, 2]


def _lengths(n=1000, seed=1):
    rng = random.Random(seed)
    return [rng.randint(1, 30) for _ in range(n)]


@pytest.mark.parametrize("pool_size", [None, 1, 5, 100])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_index_once_per_epoch_and_len_matches(pool_size, drop_last):
    lengths = _lengths(1003)
    sampler = BucketBatchSampler(lengths, 16, pool_size=pool_size, drop_last=drop_last)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat))
    if drop_last:
        assert all(len(b) == 16 for b in batches)
        assert len(flat) == 1003 // 16 * 16
    else:
        assert sorted(flat) == list(range(1003))


def test_seeded_deterministic_and_new_order_each_epoch():
    lengths = _lengths()
    a, b = BucketBatchSampler(lengths, 8, seed=3), BucketBatchSampler(lengths, 8, seed=3)
    epoch0, epoch1 = list(a), list(a)
    assert epoch0 == list(b) and epoch1 == list(b)
    assert epoch0 != epoch1
    a.set_epoch(0)
    assert list(a) == epoch0
    assert list(BucketBatchSampler(lengths, 8, seed=4)) != epoch0


def test_buckets_cut_padding_compared_with_random_batches():
    lengths = _lengths(2000)

    def padded_size(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    bucketed = padded_size(BucketBatchSampler(lengths, 32, pool_size=20))
    order = list(range(len(lengths)))
    random.Random(0).shuffle(order)
    plain = padded_size([order[i : i + 32] for i in range(0, len(order), 32)])
    assert bucketed < 0.7 * plain


def test_no_shuffle_gives_length_sorted_consecutive_batches():
    lengths = [5, 1, 3, 1, 4]
    sampler = BucketBatchSampler(lengths, 2, shuffle=False)
    assert list(sampler) == [[1, 3], [2, 4], [0]]
    assert list(sampler) == [[1, 3], [2, 4], [0]]


def test_works_as_dataloader_batch_sampler():
    seqs = [list(range(n)) for n in _lengths(50)]
    sampler = BucketBatchSampler([len(s) for s in seqs], 4)
    loader = DataLoader(seqs, batch_sampler=sampler, collate_fn=lambda b: pad_batch(b, 0))
    total = 0
    for ids, lengths in loader:
        assert ids.shape == (len(lengths), int(lengths.max()))
        total += len(lengths)
    assert total == 50


def test_sampler_rejects_bad_sizes():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        BucketBatchSampler([1, 2], 0)
    with pytest.raises(ValueError, match="pool_size must be >= 1 or None, got 0"):
        BucketBatchSampler([1, 2], 1, pool_size=0)
