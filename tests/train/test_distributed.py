"""Data parallelism: N processes with a global batch equal one process with that batch."""

from __future__ import annotations

import time

import pytest
import torch

from rnnkit.train import launch, unwrap
from rnnkit.train.distributed import DistInfo, current, init_from_env

from .toys import MLP, flat_params, train_both


@pytest.mark.slow  # two spawned processes each import torch: 10-16 s on 2 busy cores
def test_two_gloo_processes_equal_one_process(tmp_path):
    """Same final weights (Adam + clipping + dev evaluation, and SGD momentum + TBPTT)."""
    start = time.perf_counter()
    single = launch(train_both, 1, str(tmp_path / "single"))
    double = launch(train_both, 2, str(tmp_path / "double"), backend="gloo")
    print(f"single + 2-process run: {time.perf_counter() - start:.1f} s")

    for name in ("mlp", "seq"):
        torch.testing.assert_close(double[name], single[name], rtol=1e-6, atol=1e-6)
    torch.manual_seed(0)
    assert not torch.allclose(single["mlp"], flat_params(MLP()))  # training did move them
    assert single["error"] is None
    assert "batch_size=7 must be divisible by the world size 2" in double["error"]
    # rank 0 alone wrote the files: one checkpoint directory set, one log
    assert sorted(p.name for p in (tmp_path / "double" / "mlp" / "checkpoints").iterdir()) == [
        "step-00000003",
        "step-00000006",
    ]


def test_without_a_process_group_everything_is_rank_0_of_1(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_from_env() == current() == DistInfo(0, 1, 0)
    model = MLP()
    assert unwrap(model) is model


def test_launch_checks_nproc():
    with pytest.raises(ValueError, match="nproc must be an int >= 1, got 0"):
        launch(print, 0)
