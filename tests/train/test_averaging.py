"""Checkpoint averaging: the mean of the weights, of one model only, written as a checkpoint."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnkit.train import (
    CheckpointError,
    average_checkpoints,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)

from .toys import MLP, TiedEmbedding, flat_params


def saved_mlps(tmp_path, count, config=None):
    """``count`` differently initialised MLPs, saved as checkpoints of steps 10, 20, ..."""
    models, paths = [], []
    for i in range(count):
        torch.manual_seed(i)
        models.append(MLP())
        metadata = {"step": 10 * (i + 1), "metrics": {"loss": float(i)}}
        paths.append(
            save_checkpoint(tmp_path / f"ck{i}", models[-1], config=config, metadata=metadata)
        )
    return models, paths


def test_the_average_holds_the_mean_of_the_weights(tmp_path):
    models, paths = saved_mlps(tmp_path, 3, config={"hidden": 8})
    out = average_checkpoints(paths, tmp_path / "avg")
    averaged = MLP()
    meta = load_checkpoint(out, averaged)
    expected = torch.stack([flat_params(m) for m in models]).mean(0)
    torch.testing.assert_close(flat_params(averaged), expected)
    assert meta["config"] == {"hidden": 8}
    assert meta["step"] == 30  # the newest source's step
    assert "metrics" not in meta  # the sources' dev metrics are not the average's
    assert [entry["step"] for entry in meta["averaged"]] == [10, 20, 30]
    assert [entry["path"] for entry in meta["averaged"]] == [str(p) for p in paths]


def test_copies_of_one_checkpoint_average_to_it_bit_for_bit(tmp_path):
    """float64 accumulation: the mean of n equal float32 values is that value exactly."""
    models, (path,) = saved_mlps(tmp_path, 1)
    copies = []
    for name in ("a", "b", "c"):
        copies.append(tmp_path / name)
        copies[-1].mkdir()
        for file in path.iterdir():
            (copies[-1] / file.name).write_bytes(file.read_bytes())
    averaged = MLP()
    load_checkpoint(average_checkpoints(copies, tmp_path / "avg"), averaged)
    assert torch.equal(flat_params(averaged), flat_params(models[0]))


def test_dtypes_are_kept_and_tied_weights_stay_tied(tmp_path):
    class Tied(TiedEmbedding):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.ones(2, dtype=torch.float16))

    paths = []
    for i in range(2):
        torch.manual_seed(i)
        model = Tied()
        model.scale.fill_(i + 1)
        paths.append(save_checkpoint(tmp_path / f"ck{i}", model))
    averaged = Tied()
    load_checkpoint(average_checkpoints(paths, tmp_path / "avg"), averaged)
    assert averaged.out.weight is averaged.embed.weight
    assert averaged.scale.dtype == torch.float16 and averaged.scale.tolist() == [1.5, 1.5]


def test_equal_integer_tensors_are_kept_and_unequal_ones_refused(tmp_path):
    class Counted(MLP):
        def __init__(self, count):
            super().__init__()
            self.register_buffer("count", torch.tensor([count]))

    same = [save_checkpoint(tmp_path / f"same{i}", Counted(4)) for i in range(2)]
    averaged = Counted(0)
    load_checkpoint(average_checkpoints(same, tmp_path / "avg"), averaged)
    assert averaged.count.tolist() == [4]
    differ = [save_checkpoint(tmp_path / f"differ{i}", Counted(i)) for i in range(2)]
    with pytest.raises(ValueError, match=r"tensor count \(torch.int64\) differs"):
        average_checkpoints(differ, tmp_path / "avg2")
    assert not (tmp_path / "avg2").exists()


def test_checkpoints_of_different_models_are_refused(tmp_path):
    _, paths = saved_mlps(tmp_path, 2, config={"hidden": 8})
    other = save_checkpoint(tmp_path / "other", MLP(), config={"hidden": 9})
    with pytest.raises(ValueError, match="saved configs differ"):
        average_checkpoints([*paths, other], tmp_path / "avg")
    wider = save_checkpoint(tmp_path / "wider", nn.Linear(3, 4), config={"hidden": 8})
    narrower = save_checkpoint(tmp_path / "narrower", nn.Linear(3, 2), config={"hidden": 8})
    with pytest.raises(ValueError, match=r"tensor bias is torch.float32 \(2,\)"):
        average_checkpoints([wider, narrower], tmp_path / "avg")
    deeper = save_checkpoint(
        tmp_path / "deeper", nn.Sequential(nn.Linear(3, 4)), config={"hidden": 8}
    )
    with pytest.raises(ValueError, match="hold different tensors"):
        average_checkpoints([wider, deeper], tmp_path / "avg")
    assert not (tmp_path / "avg").exists()


def test_runs_of_different_seeds_are_refused_unless_allowed(tmp_path):
    paths = [
        save_checkpoint(tmp_path / f"ck{i}", MLP(), metadata={"train_config": {"seed": seed}})
        for i, seed in enumerate((0, 0, 1))
    ]
    average_checkpoints(paths[:2], tmp_path / "same")
    with pytest.raises(ValueError, match=r"different seeds \(.*ck0: 0, .*ck1: 0, .*ck2: 1\)"):
        average_checkpoints(paths, tmp_path / "mixed")
    assert not (tmp_path / "mixed").exists()
    average_checkpoints(paths, tmp_path / "mixed", allow_different_seeds=True)
    assert read_checkpoint(tmp_path / "mixed")["train_config"] == {"seed": 0}


def test_bad_requests_are_refused_and_nothing_is_overwritten(tmp_path):
    _, paths = saved_mlps(tmp_path, 2)
    with pytest.raises(ValueError, match="at least two checkpoints, got 1"):
        average_checkpoints(paths[:1], tmp_path / "avg")
    with pytest.raises(ValueError, match="named twice"):
        average_checkpoints([paths[0], tmp_path / "ck0" / ".." / "ck0"], tmp_path / "avg")
    with pytest.raises(FileExistsError, match="already exists"):
        average_checkpoints(paths, paths[1])
    assert read_checkpoint(paths[1])["step"] == 20  # untouched
    (paths[1] / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="corrupt safetensors"):
        average_checkpoints(paths, tmp_path / "avg")
    assert not (tmp_path / "avg").exists()
