"""The Trainer's parts on their own: data order, LR schedules, clipping, progress bar."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_sequence

from rnnkit.train import TrainConfig
from rnnkit.train.data import BatchOrder, detach_state, to_device
from rnnkit.train.gradients import clip_gradients
from rnnkit.train.optim import LRSchedule, build_optimizer
from rnnkit.train.progress import Progress


def test_each_epoch_is_a_fresh_permutation_cut_into_full_batches():
    order = BatchOrder(num_examples=10, batch_size=3, seed=7)
    assert order.batches_per_epoch == 3
    epochs = [[i for p in range(3) for i in order.global_batch(e * 3 + p)] for e in range(3)]
    for seen in epochs:
        assert len(seen) == len(set(seen)) == 9  # one example per epoch is left over
    assert epochs[0] != epochs[1]
    assert BatchOrder(10, 3, seed=7).global_batch(4) == order.global_batch(4)
    assert BatchOrder(10, 3, seed=8).global_batch(4) != order.global_batch(4)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 60),
    batch=st.integers(1, 12),
    world=st.sampled_from([1, 2, 3, 4]),
    seed=st.integers(0, 2**40),
    step=st.integers(0, 100),
    bucket=st.booleans(),
    pool=st.integers(1, 4),
)
def test_batches_are_disjoint_within_an_epoch_and_shares_partition_them(
    n, batch, world, seed, step, bucket, pool
):
    batch *= world  # the Trainer requires batch_size % world_size == 0
    lengths = [(i * 7919) % 13 for i in range(n)] if bucket else None
    if n < batch:
        with pytest.raises(ValueError, match=f"fewer than batch_size={batch}"):
            BatchOrder(n, batch, seed, lengths, pool)
        return
    order = BatchOrder(n, batch, seed, lengths, pool)
    epoch, _ = order.epoch_and_position(step)
    first = epoch * order.batches_per_epoch
    seen = [i for s in range(first, first + order.batches_per_epoch) for i in order.global_batch(s)]
    assert len(seen) == len(set(seen)) == order.batches_per_epoch * batch
    assert all(0 <= i < n for i in seen)
    shares = [order.local_batch(step, rank, world) for rank in range(world)]
    assert [i for share in shares for i in share] == order.global_batch(step)


def test_bucketed_batches_hold_similar_lengths_in_a_random_order():
    lengths = [(i * 7919) % 20 + 1 for i in range(1000)]
    plain = BatchOrder(1000, 10, seed=3)
    bucketed = BatchOrder(1000, 10, seed=3, lengths=lengths, pool=10)

    def padding(order, step):  # padded positions of the batch: what bucketing saves
        sizes = [lengths[i] for i in order.global_batch(step)]
        return len(sizes) * max(sizes) - sum(sizes)

    steps = range(bucketed.batches_per_epoch)
    assert sum(padding(bucketed, s) for s in steps) < 0.2 * sum(padding(plain, s) for s in steps)
    firsts = [bucketed.global_batch(s)[0] for s in steps]
    assert firsts != sorted(firsts, key=lengths.__getitem__)  # batches are not in length order
    assert bucketed.global_batch(0) != bucketed.global_batch(bucketed.batches_per_epoch)
    again = BatchOrder(1000, 10, seed=3, lengths=lengths, pool=10)
    assert again.global_batch(57) == bucketed.global_batch(57)  # resumable: a function of step
    with pytest.raises(ValueError, match="3 lengths for 1000 examples"):
        BatchOrder(1000, 10, seed=3, lengths=[1, 2, 3])


def test_to_device_and_detach_walk_nested_batches():
    packed = pack_sequence([torch.ones(3, 2), torch.ones(1, 2)])
    batch = {"x": (torch.ones(2), [torch.zeros(1)]), "p": packed, "n": 3}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["n"] == 3 and isinstance(moved["x"], tuple) and isinstance(moved["x"][1], list)
    assert moved["p"].batch_sizes.device.type == "cpu"
    h = torch.ones(2, requires_grad=True) * 2
    state = detach_state((h, [h], {"c": h}))
    assert not state[0].requires_grad and not state[1][0].requires_grad
    assert not state[2]["c"].requires_grad


def lrs(**config):
    schedule = LRSchedule(TrainConfig(**config))
    return [schedule.lr(step) for step in range(config["max_steps"])]


def test_warmup_then_cosine_to_min_lr():
    values = lrs(max_steps=11, lr=1.0, schedule="cosine", warmup_steps=2, min_lr=0.1)
    assert values[:2] == [0.5, 1.0]
    assert values[2] == 1.0 and math.isclose(
        values[-1], 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 8 / 9))
    )
    assert all(a >= b for a, b in itertools.pairwise(values[2:]))


def test_step_decay():
    assert lrs(max_steps=6, lr=1.0, schedule="step", lr_step_size=2, lr_gamma=0.5) == [
        1.0, 1.0, 0.5, 0.5, 0.25, 0.25,
    ]  # fmt: skip


def test_plateau_decays_after_patience_bad_evaluations():
    schedule = LRSchedule(TrainConfig(lr=1.0, schedule="plateau", plateau_patience=2))
    seen = []
    for improved in [True, False, False, False, True, False, False]:
        schedule.observe(improved)
        seen.append(schedule.lr(0))
    assert seen == [1.0, 1.0, 0.1, 0.1, 0.1, 0.1, pytest.approx(0.01)]


@pytest.mark.parametrize(("name", "cls"), [("sgd", torch.optim.SGD), ("adamw", torch.optim.AdamW)])
def test_optimizer_choice(name, cls):
    config = TrainConfig(optimizer=name, lr=0.3, momentum=0.5, weight_decay=0.1)
    optimizer = build_optimizer([torch.nn.Parameter(torch.ones(1))], config)
    assert type(optimizer) is cls and optimizer.param_groups[0]["weight_decay"] == 0.1


def test_adam_runs_on_the_fused_kernel_with_the_per_tensor_loop_s_values():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    config = TrainConfig(optimizer="adam", lr=0.01, weight_decay=0.1)
    fused = build_optimizer(params, config)
    looped = torch.optim.Adam(twins, lr=0.01, weight_decay=0.1)
    assert fused.param_groups[0]["fused"] is True
    for _ in range(20):
        for p, twin in zip(params, twins, strict=True):
            p.grad = torch.randn_like(p)
            twin.grad = p.grad.clone()
        fused.step()
        looped.step()
    for p, twin in zip(params, twins, strict=True):
        torch.testing.assert_close(p, twin)


def test_adam_keeps_its_loop_where_the_fused_kernel_does_not_fit():
    sparse = torch.nn.Parameter(torch.eye(2).to_sparse())
    assert build_optimizer([sparse], TrainConfig(optimizer="adam")).param_groups[0]["fused"] is None


def grads_of(*values):
    params = [torch.nn.Parameter(torch.zeros(len(v))) for v in values]
    for p, v in zip(params, values):
        p.grad = torch.tensor(v)
    return params


def total_norm(params):
    return math.sqrt(sum(float((p.grad**2).sum()) for p in params))


def test_clip_norm_bounds_the_total_norm_and_reports_it_before():
    params = grads_of([3.0, 0.0], [4.0])
    stats = clip_gradients(params, clip_norm=1.0, clip_value=None)
    assert stats.norm == pytest.approx(5.0) and stats.clipped
    assert total_norm(params) <= 1.0
    torch.testing.assert_close(params[0].grad, torch.tensor([0.6, 0.0]), atol=1e-5, rtol=0)


def test_clip_value_bounds_each_element():
    params = grads_of([3.0, -0.5], [-4.0])
    stats = clip_gradients(params, clip_norm=None, clip_value=1.0)
    assert stats.clipped
    assert params[0].grad.tolist() == [1.0, -0.5] and params[1].grad.tolist() == [-1.0]


def test_small_gradients_are_left_alone():
    params = grads_of([0.3], [0.4])
    stats = clip_gradients(params, clip_norm=1.0, clip_value=1.0)
    assert not stats.clipped and params[0].grad.tolist() == pytest.approx([0.3])


def test_progress_bar_is_silent_without_a_tty():
    assert Progress(total=3, initial=0, enabled=True)._bar.disable  # pytest captures stderr
