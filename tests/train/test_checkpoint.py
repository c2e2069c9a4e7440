"""Checkpoint files: safetensors + JSON only, atomic, and clear about what is wrong."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from rnnkit.train import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from rnnkit.train import checkpoint as checkpoint_module
from rnnkit.train.state import (
    optimizer_from_files,
    optimizer_to_files,
    restore_rng,
    rng_from_files,
    rng_snapshot,
    rng_to_files,
)

from .toys import MLP, TiedEmbedding, flat_params


def test_round_trip_of_weights_and_metadata(tmp_path):
    model = MLP()
    path = save_checkpoint(tmp_path / "ck", model, config={"hidden": 8}, metadata={"step": 7})
    assert sorted(p.name for p in path.iterdir()) == ["checkpoint.json", "model.safetensors"]
    other = MLP()
    meta = load_checkpoint(path, other)
    assert torch.equal(flat_params(model), flat_params(other))
    assert meta["config"] == {"hidden": 8} and meta["step"] == 7
    assert read_checkpoint(path) == meta


def test_tied_weights_are_stored_once_and_stay_tied(tmp_path):
    model = TiedEmbedding()
    save_checkpoint(tmp_path, model)
    other = TiedEmbedding()
    load_checkpoint(tmp_path, other)
    assert torch.equal(other.embed.weight, model.embed.weight)
    assert other.out.weight is other.embed.weight


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_checkpoint(tmp_path / "nowhere", MLP())


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: (d / "model.safetensors").unlink(), r"model\.safetensors: missing"),
        (lambda d: (d / "checkpoint.json").unlink(), r"checkpoint\.json: missing"),
        (lambda d: (d / "model.safetensors").write_bytes(b"\x10garbage"), "corrupt safetensors"),
        (lambda d: (d / "checkpoint.json").write_text("{not json"), "corrupt JSON"),
        (lambda d: (d / "checkpoint.json").write_text('{"a": 1}'), "not an rnnkit checkpoint"),
    ],
)
def test_damaged_checkpoints_name_the_file(tmp_path, damage, match):
    save_checkpoint(tmp_path, MLP())
    damage(tmp_path)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(tmp_path, MLP())


def test_weights_that_do_not_fit_the_model(tmp_path):
    save_checkpoint(tmp_path, MLP())
    with pytest.raises(CheckpointError, match="does not fit Linear"):
        load_checkpoint(tmp_path, nn.Linear(4, 2))


def save_dying_at_the_json(monkeypatch, path, step):
    """A save whose model.safetensors is written, and then the JSON write dies."""

    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(checkpoint_module, "write_json", crash)
    with pytest.raises(OSError, match="power cut"):
        save_checkpoint(path, MLP(), metadata={"step": step})
    monkeypatch.undo()


def test_a_crash_mid_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    old = MLP()
    save_checkpoint(tmp_path / "ck", old, metadata={"step": 1})
    save_dying_at_the_json(monkeypatch, tmp_path / "ck", step=2)

    probe = MLP()
    assert load_checkpoint(tmp_path / "ck", probe)["step"] == 1
    assert torch.equal(flat_params(probe), flat_params(old))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temporary left behind


def test_a_crash_between_the_two_renames_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    # The old directory is moved aside, then the process dies before the new one is renamed in.
    old = MLP()
    save_checkpoint(tmp_path / "best", old, metadata={"step": 1})
    real_replace = checkpoint_module.os.replace

    def dies_before_the_new_one_is_renamed_in(source, target):
        if target == tmp_path / "best":
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(checkpoint_module.os, "replace", dies_before_the_new_one_is_renamed_in)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "best", MLP(), metadata={"step": 2})
    monkeypatch.undo()
    assert not (tmp_path / "best").exists()

    found = checkpoint_module.best_checkpoint(tmp_path)
    probe = MLP()
    assert load_checkpoint(found, probe)["step"] == 1
    assert torch.equal(flat_params(probe), flat_params(old))

    # The next save fails too: the old checkpoint is back in its place, not cleaned away.
    save_dying_at_the_json(monkeypatch, tmp_path / "best", step=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]
    assert load_checkpoint(tmp_path / "best", probe)["step"] == 1


def test_a_version_that_is_not_a_number_is_named(tmp_path):
    path = save_checkpoint(tmp_path / "ck", MLP())
    meta = json.loads((path / "checkpoint.json").read_text())
    (path / "checkpoint.json").write_text(json.dumps({**meta, "version": "2"}))
    with pytest.raises(CheckpointError, match="version must be an integer, got '2'"):
        read_checkpoint(path)


def test_overwriting_a_checkpoint_replaces_it_whole(tmp_path):
    save_checkpoint(tmp_path / "ck", MLP(), metadata={"step": 1})
    new = MLP()
    save_checkpoint(tmp_path / "ck", new, metadata={"step": 2})
    probe = MLP()
    assert load_checkpoint(tmp_path / "ck", probe)["step"] == 2
    assert torch.equal(flat_params(probe), flat_params(new))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_optimizer_state_round_trips_without_pickle(tmp_path, name):
    def make(model):
        if name == "sgd":
            return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        return torch.optim.Adam(model.parameters(), lr=0.1, betas=(0.8, 0.9))

    model = MLP()
    optimizer = make(model)
    for _ in range(2):
        model(torch.randn(3, 4)).sum().backward()
        optimizer.step()
    tensors, plain = optimizer_to_files(optimizer)
    plain = json.loads(json.dumps(plain))  # it really is JSON
    restored = make(MLP())
    optimizer_from_files(restored, tensors, plain)
    a, b = optimizer.state_dict(), restored.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for key, entries in a["state"].items():
        for field, value in entries.items():
            assert torch.equal(value, b["state"][key][field]), (key, field)


def test_a_checkpoint_brings_the_optimizer_state_but_not_its_kernel(tmp_path):
    """A run saved with Adam's per-tensor loop resumes on the fused kernel, and vice versa."""
    model = MLP()
    looped = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(3, 4)).sum().backward()
    looped.step()
    tensors, plain = optimizer_to_files(looped)
    fused = torch.optim.Adam(MLP().parameters(), lr=0.5, fused=True)
    optimizer_from_files(fused, tensors, json.loads(json.dumps(plain)))
    group = fused.param_groups[0]
    assert group["fused"] is True and group["lr"] == 0.1


def test_rng_snapshot_round_trips_through_files():
    import random

    import numpy as np

    snapshot = rng_snapshot()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    tensors, plain = rng_to_files(snapshot, prefix="rank0.")
    restore_rng(rng_from_files(tensors, json.loads(json.dumps(plain)), prefix="rank0."))
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0])
    assert (expected[1] == again[1]).all() and expected[2] == again[2]


def test_leftovers_of_a_killed_save_are_cleaned_by_the_next(tmp_path):
    (tmp_path / ".tmp-ck-999").mkdir()  # as a SIGKILL during the save would leave them
    (tmp_path / ".tmp-old-ck-999").mkdir()
    save_checkpoint(tmp_path / "ck", MLP())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
