"""The Trainer loop: it does exactly the reference updates, learns, stops and guards."""

from __future__ import annotations

import csv
import json
import math
import shutil

import pytest
import torch

from rnnkit.train import NonFiniteLossError, TrainConfig, Trainer, read_checkpoint
from rnnkit.train.data import BatchOrder

from .toys import MLP, Regression, flat_params, regression_data

QUIET = {"progress": False, "log_every": 1}


def test_equals_a_hand_written_sgd_loop(tmp_path):
    """The Trainer adds nothing to SGD: same batches, same updates, same weights."""
    data = regression_data(40)
    config = TrainConfig(max_steps=12, batch_size=8, lr=0.1, optimizer="sgd", seed=3, **QUIET)
    model = MLP()
    reference = MLP()
    reference.load_state_dict(model.state_dict())

    Trainer(model, Regression(), data, config, tmp_path).fit()

    order = BatchOrder(len(data), 8, seed=3)
    for step in range(12):
        x, y = Regression().collate([data[i] for i in order.global_batch(step)])
        reference.zero_grad()
        ((reference(x) - y) ** 2).mean().backward()
        with torch.no_grad():
            for p in reference.parameters():
                p -= 0.1 * p.grad
    torch.testing.assert_close(flat_params(model), flat_params(reference))


def test_learns_and_writes_logs_plots_and_summary(tmp_path):
    data, dev = regression_data(64), regression_data(32, seed=1)
    model = MLP()
    before = Regression().evaluate(model, dev)["mse"]
    config = TrainConfig(max_steps=150, batch_size=16, lr=1e-2, eval_every=50, **QUIET)
    summary = Trainer(model, Regression(), data, config, tmp_path, dev_set=dev).fit()

    assert summary.steps == 150 and summary.stop_reason == "max_steps"
    assert summary.metrics["mse"] < before / 10
    assert summary.best_metric == min(summary.best_metric, summary.metrics["mse"])
    with open(tmp_path / "train.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == list(range(1, 151))
    assert set(rows[0]) >= {"step", "loss", "lr", "grad_norm", "clipped", "items_per_s"}
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    with open(tmp_path / "dev.csv") as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)] == [50, 100, 150]
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert json.loads((tmp_path / "summary.json").read_text())["steps"] == 150
    assert read_checkpoint(summary.best_checkpoint)["step"] == summary.best_step


class Stagnant(Regression):
    """A dev metric that only gets worse after the first evaluation."""

    def __init__(self):
        self.calls = 0

    def evaluate(self, model, dev_set):
        self.calls += 1
        return {"mse": float(self.calls)}


def test_early_stopping_counts_evaluations_without_improvement(tmp_path):
    config = TrainConfig(max_steps=100, batch_size=4, eval_every=5, patience=3, **QUIET)
    objective = Stagnant()
    summary = Trainer(MLP(), objective, regression_data(16), config, tmp_path, dev_set=[]).fit()
    # evaluation 1 is the best; 2, 3, 4 do not improve -> stop at step 20
    assert summary.stop_reason == "early_stopping"
    assert summary.steps == 20 and objective.calls == 4
    assert summary.best_step == 5 and summary.best_metric == 1.0


class Poisoned(Regression):
    """Returns a NaN loss on the steps (0-based batch count) listed in `bad`."""

    def __init__(self, bad):
        self.bad, self.calls = set(bad), 0

    def loss(self, model, batch):
        loss = super().loss(model, batch)
        self.calls += 1
        return loss * math.nan if self.calls - 1 in self.bad else loss


def test_non_finite_steps_are_skipped_without_touching_the_weights(tmp_path):
    config = TrainConfig(max_steps=6, batch_size=4, max_nonfinite=3, **QUIET)
    model = MLP()
    snapshots = []
    trainer = Trainer(model, Poisoned(bad={2, 3}), regression_data(16), config, tmp_path)
    step = trainer._train_step
    trainer._train_step = lambda: (snapshots.append(flat_params(model)), step())[1]
    summary = trainer.fit()
    snapshots.append(flat_params(model))
    assert summary.skipped_steps == 2
    assert torch.equal(snapshots[2], snapshots[3]) and torch.equal(snapshots[3], snapshots[4])
    assert not torch.equal(snapshots[4], snapshots[5])  # training went on afterwards
    with open(tmp_path / "train.csv") as handle:
        assert [r["skipped"] for r in csv.DictReader(handle)] == ["0", "0", "1", "1", "0", "0"]


def test_too_many_non_finite_steps_in_a_row_stop_with_a_clear_error(tmp_path):
    config = TrainConfig(max_steps=20, batch_size=4, max_nonfinite=3, **QUIET)
    trainer = Trainer(MLP(), Poisoned(bad={1, 2, 3}), regression_data(16), config, tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"step 3: .*3 in a row.*max_nonfinite=3"):
        trainer.fit()


def test_clipping_fraction_is_reported(tmp_path):
    data = regression_data(16)
    tight = TrainConfig(max_steps=5, batch_size=4, clip_norm=1e-4, **QUIET)
    loose = tight.replace(clip_norm=1e4)
    assert Trainer(MLP(), Regression(), data, tight, tmp_path / "a").fit().clipped_fraction == 1
    assert Trainer(MLP(), Regression(), data, loose, tmp_path / "b").fit().clipped_fraction == 0


def test_refuses_to_overwrite_a_run(tmp_path):
    config = TrainConfig(max_steps=2, batch_size=4, **QUIET)
    Trainer(MLP(), Regression(), regression_data(8), config, tmp_path).fit()
    with pytest.raises(FileExistsError, match="resume=True"):
        Trainer(MLP(), Regression(), regression_data(8), config, tmp_path).fit()
    # A model kept without its checkpoints: a fresh run would replace it, so none starts.
    shutil.copytree(tmp_path / "checkpoints" / "step-00000002", tmp_path / "best")
    shutil.rmtree(tmp_path / "checkpoints")
    model = (tmp_path / "best" / "model.safetensors").read_bytes()
    for resume in (False, True):
        with pytest.raises(FileExistsError, match="best/ checkpoint but no periodic"):
            Trainer(MLP(), Regression(), regression_data(8), config, tmp_path).fit(resume=resume)
    assert (tmp_path / "best" / "model.safetensors").read_bytes() == model


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"objective": object()}, TypeError, "lacks collate, loss"),
        ({"config": {"max_steps": 3}}, TypeError, "TrainConfig"),
        ({"train_set": regression_data(3)}, ValueError, "fewer than batch_size=4"),
        ({"config": TrainConfig(batch_size=4, schedule="plateau")}, ValueError, "dev_set"),
        ({"config": TrainConfig(batch_size=4, bucket=True)}, TypeError, "lacks length"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, error, match):
    args = {
        "model": MLP(),
        "objective": Regression(),
        "train_set": regression_data(8),
        "config": TrainConfig(batch_size=4),
        "out_dir": tmp_path,
    }
    with pytest.raises(error, match=match):
        Trainer(**{**args, **kwargs})


def test_loss_must_be_a_scalar(tmp_path):
    class PerItem(Regression):
        def loss(self, model, batch):
            x, y = batch
            return ((model(x) - y) ** 2).mean(1)

    config = TrainConfig(max_steps=1, batch_size=4, **QUIET)
    with pytest.raises(TypeError, match=r"scalar tensor.*shape \(4,\)"):
        Trainer(MLP(), PerItem(), regression_data(8), config, tmp_path).fit()


def test_evaluate_must_return_the_metric(tmp_path):
    class Wrong(Regression):
        def evaluate(self, model, dev_set):
            return {"accuracy": 1.0}

    config = TrainConfig(max_steps=1, batch_size=4, **QUIET)
    trainer = Trainer(MLP(), Wrong(), regression_data(8), config, tmp_path, dev_set=[])
    with pytest.raises(ValueError, match=r"objective.metric='mse'; got \['accuracy'\]"):
        trainer.fit()


@pytest.mark.parametrize(
    ("clip", "bound"), [({"clip_norm": 0.01}, 0.01), ({"clip_value": 0.001}, None)]
)
def test_clipping_bounds_each_sgd_update(tmp_path, clip, bound):
    """With SGD at lr 1 an update *is* the clipped gradient, so its size shows the bound."""
    model = MLP()
    config = TrainConfig(max_steps=1, batch_size=4, lr=1.0, optimizer="sgd", **clip, **QUIET)
    before = flat_params(model)
    Trainer(model, Regression(), regression_data(8), config, tmp_path).fit()
    change = flat_params(model) - before
    if bound is not None:
        assert 0.009 < change.norm() <= bound
    else:
        assert change.abs().max().item() == pytest.approx(0.001, rel=1e-4)  # float32 sums


def test_the_last_steps_are_logged_even_off_the_log_period(tmp_path):
    config = TrainConfig(max_steps=7, batch_size=4, log_every=3, progress=False)
    Trainer(MLP(), Regression(), regression_data(8), config, tmp_path).fit()
    with open(tmp_path / "train.csv") as handle:
        assert [r["step"] for r in csv.DictReader(handle)] == ["3", "6", "7"]
    assert (tmp_path / "curves.png").is_file()


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    config = TrainConfig(max_steps=7, batch_size=4, checkpoint_every=2, keep_checkpoints=2, **QUIET)
    summary = Trainer(MLP(), Regression(), regression_data(8), config, tmp_path).fit()
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step-00000006", "step-00000007"]
    assert summary.last_checkpoint.endswith("step-00000007")


def test_resuming_with_a_changed_learning_rate_warns(tmp_path, caplog):
    config = TrainConfig(max_steps=2, batch_size=4, **QUIET)
    Trainer(MLP(), Regression(), regression_data(8), config, tmp_path).fit()
    more = config.replace(max_steps=3, lr=0.5)
    Trainer(MLP(), Regression(), regression_data(8), more, tmp_path).fit(resume=True)
    assert "changed config ['lr']: not bit-exact" in caplog.text


@pytest.mark.parametrize(
    ("schedule", "changed", "warned"),
    [
        ("constant", {"max_steps": 3}, None),
        ("cosine", {"max_steps": 3}, "['max_steps']"),  # the curve is laid over max_steps
        ("plateau", {"max_steps": 3, "eval_every": 2}, "['eval_every']"),  # it decays per eval
    ],
)
def test_resuming_warns_when_the_schedule_reads_what_changed(
    tmp_path, caplog, schedule, changed, warned
):
    config = TrainConfig(max_steps=2, batch_size=4, schedule=schedule, eval_every=1, **QUIET)
    dev = regression_data(4, seed=1)
    Trainer(MLP(), Regression(), regression_data(8), config, tmp_path, dev_set=dev).fit()
    more = config.replace(**changed)
    Trainer(MLP(), Regression(), regression_data(8), more, tmp_path, dev_set=dev).fit(resume=True)
    assert ("not bit-exact" in caplog.text) == (warned is not None)
    if warned:
        assert f"changed config {warned}: not bit-exact" in caplog.text


class NeverBetter(Regression):
    """A dev metric that never improves after the first evaluation."""

    def evaluate(self, model, dev_set):
        return {"mse": 1.0}


def test_the_evaluation_that_ends_a_run_counts_neither_for_patience_nor_plateau(tmp_path):
    data, dev = regression_data(16), regression_data(4, seed=1)
    config = TrainConfig(max_steps=10, batch_size=4, eval_every=4, patience=2, **QUIET)
    # Scheduled evaluations at steps 4 and 8, the run's last at 10: one bad one, not two.
    summary = Trainer(MLP(), NeverBetter(), data, config, tmp_path / "a", dev_set=dev).fit()
    assert (summary.steps, summary.stop_reason) == (10, "max_steps")
    longer = config.replace(max_steps=20)  # goes on to its evaluation at 12, the second bad one
    summary = Trainer(MLP(), NeverBetter(), data, longer, tmp_path / "a", dev_set=dev).fit(
        resume=True
    )
    assert (summary.steps, summary.stop_reason) == (12, "early_stopping")

    plateau = TrainConfig(max_steps=6, batch_size=4, lr=0.4, eval_every=4, schedule="plateau",
                          lr_gamma=0.5, log_every=1, progress=False)  # fmt: skip
    Trainer(MLP(), NeverBetter(), data, plateau, tmp_path / "p", dev_set=dev).fit()
    Trainer(MLP(), NeverBetter(), data, plateau.replace(max_steps=12), tmp_path / "p",
            dev_set=dev).fit(resume=True)  # fmt: skip
    with open(tmp_path / "p" / "train.csv") as handle:
        lrs = [float(row["lr"]) for row in csv.DictReader(handle)]
    assert lrs == [0.4] * 8 + [0.2] * 4  # decayed after the evaluation at 8 only


def test_a_run_writes_tensorboard_event_files(tmp_path):
    """tensorboard is a dependency: a real run leaves event files that hold its scalars."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = TrainConfig(max_steps=4, batch_size=4, eval_every=2, **{**QUIET, "log_every": 2})
    Trainer(
        MLP(), Regression(), regression_data(16), config, tmp_path, dev_set=regression_data(4)
    ).fit()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4]
    assert [e.step for e in events.Scalars("dev/mse")] == [2, 4]


def test_tensorboard_gets_the_same_scalars_when_installed(tmp_path, monkeypatch):
    """A stand-in SummaryWriter shows exactly what is written, and that the writer is closed."""
    import sys
    import types

    written = []

    class Writer:
        def __init__(self, log_dir):
            self.log_dir = log_dir

        def add_scalar(self, tag, value, step):
            written.append((tag, step))

        def close(self):
            written.append("closed")

    monkeypatch.setitem(
        sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=Writer)
    )
    config = TrainConfig(max_steps=2, batch_size=4, eval_every=2, **QUIET)
    Trainer(
        MLP(), Regression(), regression_data(8), config, tmp_path, dev_set=regression_data(4)
    ).fit()
    assert ("train/loss", 1) in written and ("train/grad_norm", 2) in written
    assert ("dev/mse", 2) in written and written[-1] == "closed"


def test_resuming_an_early_stopped_run_does_not_train_on(tmp_path):
    config = TrainConfig(max_steps=100, batch_size=4, eval_every=5, patience=1, **QUIET)
    model = MLP()
    Trainer(model, Stagnant(), regression_data(16), config, tmp_path, dev_set=[]).fit()
    weights = flat_params(model)
    again = Trainer(model, Stagnant(), regression_data(16), config, tmp_path, dev_set=[])
    summary = again.fit(resume=True)
    assert summary.steps == 10 and summary.stop_reason == "early_stopping"
    assert torch.equal(flat_params(model), weights)
    files = sorted(p.name for p in (tmp_path / "checkpoints" / "step-00000010").iterdir())
    assert files == [  # nothing pickled: safetensors and JSON only
        "checkpoint.json", "model.safetensors", "optimizer.safetensors", "rng.safetensors",
        "trainer_state.json",
    ]  # fmt: skip


def test_plateau_schedule_follows_the_dev_metric(tmp_path):
    config = TrainConfig(
        max_steps=8, batch_size=4, lr=0.4, schedule="plateau", lr_gamma=0.5, eval_every=2,
        **QUIET,
    )  # fmt: skip
    Trainer(MLP(), Stagnant(), regression_data(8), config, tmp_path, dev_set=[]).fit()
    with open(tmp_path / "train.csv") as handle:
        lrs = [float(r["lr"]) for r in csv.DictReader(handle)]
    # evaluations after steps 2 (best), 4, 6 (worse: halve each time)
    assert lrs == [0.4, 0.4, 0.4, 0.4, 0.2, 0.2, 0.1, 0.1]
