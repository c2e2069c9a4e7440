"""Data parallelism: N processes with a global batch equal one process with that batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.train import launch, unwrap
from rnnkit.train.distributed import DistInfo, _free_port, current, init_from_env

from .toys import MLP, distributed_scenarios, flat_params


def check_against_one_process(results, reference):
    for name in ("mlp", "seq"):
        torch.testing.assert_close(
            torch.as_tensor(results[name]), reference[name], rtol=1e-6, atol=1e-6
        )
    assert results["resumed_equal"] and reference["resumed_equal"]
    assert reference["error"] is None
    assert "batch_size=7 must be divisible by the world size 2" in results["error"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    results = launch(distributed_scenarios, 1, str(tmp_path_factory.mktemp("single")))
    torch.manual_seed(0)
    assert not torch.allclose(results["mlp"], flat_params(MLP()))  # training did move them
    return results


@pytest.mark.slow  # spawned processes each import torch: 10-20 s on 2 busy cores
def test_two_gloo_processes_launched_equal_one_process(tmp_path, reference):
    """Same weights (Adam + clipping + dev evaluation; SGD momentum + TBPTT); exact resume."""
    results = launch(distributed_scenarios, 2, str(tmp_path))  # the Trainer picks gloo
    check_against_one_process(results, reference)
    # rank 0 alone wrote the files
    names = sorted(p.name for p in (tmp_path / "mlp" / "checkpoints").iterdir())
    assert names == ["step-00000003", "step-00000006"]


SCRIPT = """
import json, sys
from train.toys import distributed_scenarios
results = distributed_scenarios(sys.argv[1])
if int(__import__("os").environ["RANK"]) == 0:
    json.dump({k: v.tolist() if hasattr(v, "tolist") else v for k, v in results.items()},
              open(sys.argv[2], "w"))
"""


@pytest.mark.slow
def test_torchrun_processes_join_by_themselves(tmp_path, reference):
    """Under torchrun the Trainer initialises the process group from the environment."""
    (tmp_path / "script.py").write_text(SCRIPT)
    tests_dir = str(Path(__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests_dir, *sys.path])}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    command += ["--master-port", str(_free_port()), str(tmp_path / "script.py")]
    command += [str(tmp_path / "run"), str(tmp_path / "results.json")]
    done = subprocess.run(command, env=env, timeout=300, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    check_against_one_process(json.loads((tmp_path / "results.json").read_text()), reference)


def test_without_a_process_group_everything_is_rank_0_of_1(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_from_env() == current() == DistInfo(0, 1, 0)
    model = MLP()
    assert unwrap(model) is model


def test_launch_checks_nproc():
    with pytest.raises(ValueError, match="nproc must be an int >= 1, got 0"):
        launch(print, 0)


def fails_on_rank_1(message: str) -> None:
    if os.environ["RANK"] == "1":
        raise ValueError(message)


def test_a_failing_process_is_one_error_that_says_what_failed():
    with pytest.raises(ChildProcessError, match=r"process 1 of 2 failed: ValueError: no data"):
        launch(fails_on_rank_1, 2, "no data")
