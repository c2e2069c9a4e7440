"""Resuming from a checkpoint gives bit-identical weights to a run that never stopped."""

from __future__ import annotations

import pytest
import torch

from rnnkit.train import TrainConfig, Trainer, latest_checkpoint, load_checkpoint
from rnnkit.train import trainer as trainer_module

from .toys import (
    MLP,
    Regression,
    SeqModel,
    SeqRegression,
    logged_rows,
    regression_data,
    sequence_data,
)


def fresh(model_cls, seed):
    torch.manual_seed(seed)
    return model_cls()


def assert_same_weights(a, b):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), name


def test_n_steps_then_resume_to_2n_equals_2n_steps(tmp_path):
    """Adam moments, dropout masks, data order across epochs and dev evaluations all resume."""
    data, dev = regression_data(24), regression_data(8, seed=1)
    config = TrainConfig(
        max_steps=20, batch_size=8, clip_norm=0.5, eval_every=5, checkpoint_every=10,
        progress=False, log_every=1,
    )  # fmt: skip
    whole = fresh(lambda: MLP(dropout=0.3), 0)
    Trainer(whole, Regression(), data, config, tmp_path / "whole", dev_set=dev).fit()

    first = fresh(lambda: MLP(dropout=0.3), 0)
    half = config.replace(max_steps=10)
    Trainer(first, Regression(), data, half, tmp_path / "split", dev_set=dev).fit()
    resumed = fresh(lambda: MLP(dropout=0.3), 99)  # other init: weights must come from disk
    trainer = Trainer(resumed, Regression(), data, config, tmp_path / "split", dev_set=dev)
    summary = trainer.fit(resume=True)

    assert summary.steps == 20
    assert_same_weights(whole, resumed)
    assert logged_rows(tmp_path / "whole") == logged_rows(tmp_path / "split")


class CrashAt(SeqRegression):
    """Raises in the middle of training, as a killed process would stop."""

    def __init__(self, calls):
        self.calls_left = calls

    def loss_with_state(self, model, chunk, state):
        self.calls_left -= 1
        if self.calls_left < 0:
            raise KeyboardInterrupt
        return super().loss_with_state(model, chunk, state)


def test_crash_mid_run_then_resume_with_cosine_warmup_and_tbptt(tmp_path):
    data = sequence_data(12)
    config = TrainConfig(
        max_steps=12, batch_size=4, tbptt=5, schedule="cosine", warmup_steps=3,
        checkpoint_every=4, optimizer="adamw", weight_decay=0.1, progress=False, log_every=1,
    )  # fmt: skip
    whole = fresh(SeqModel, 0)
    Trainer(whole, SeqRegression(), data, config, tmp_path / "whole").fit()

    crashed = fresh(SeqModel, 0)
    chunks_per_step = 3  # 12 time steps in chunks of 5
    with pytest.raises(KeyboardInterrupt):
        Trainer(crashed, CrashAt(6 * chunks_per_step + 1), data, config, tmp_path / "split").fit()
    assert latest_checkpoint(tmp_path / "split").name == "step-00000004"
    resumed = fresh(SeqModel, 1)
    Trainer(resumed, SeqRegression(), data, config, tmp_path / "split").fit(resume=True)

    assert_same_weights(whole, resumed)
    assert logged_rows(tmp_path / "whole") == logged_rows(
        tmp_path / "split"
    )  # no duplicated steps 5, 6


def test_crash_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    data = regression_data(16)
    config = TrainConfig(max_steps=12, batch_size=4, checkpoint_every=4, progress=False)
    whole = fresh(MLP, 0)
    Trainer(whole, Regression(), data, config, tmp_path / "whole").fit()

    real = trainer_module.write_training_state
    calls = []

    def dies_on_second_checkpoint(directory, *args):
        calls.append(directory)
        if len(calls) == 2:  # model.safetensors is already written in the temporary dir
            assert (directory / "model.safetensors").is_file()
            raise OSError("disk full")
        real(directory, *args)

    monkeypatch.setattr(trainer_module, "write_training_state", dies_on_second_checkpoint)
    with pytest.raises(OSError, match="disk full"):
        Trainer(fresh(MLP, 0), Regression(), data, config, tmp_path / "split").fit()
    monkeypatch.undo()

    checkpoints = tmp_path / "split" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step-00000004"]
    probe = MLP()
    assert load_checkpoint(latest_checkpoint(tmp_path / "split"), probe)["step"] == 4
    resumed = fresh(MLP, 5)
    Trainer(resumed, Regression(), data, config, tmp_path / "split").fit(resume=True)
    assert_same_weights(whole, resumed)


def test_resume_without_a_checkpoint_starts_fresh_and_says_so(tmp_path, caplog):
    config = TrainConfig(max_steps=3, batch_size=4, progress=False)
    a, b = fresh(MLP, 0), fresh(MLP, 0)
    Trainer(a, Regression(), regression_data(8), config, tmp_path / "a").fit()
    assert not caplog.records
    Trainer(b, Regression(), regression_data(8), config, tmp_path / "b").fit(resume=True)
    assert_same_weights(a, b)
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "nothing to resume in" in warned[0].getMessage()


def test_resume_after_the_end_does_nothing_more(tmp_path):
    config = TrainConfig(max_steps=3, batch_size=4, progress=False)
    model = fresh(MLP, 0)
    Trainer(model, Regression(), regression_data(8), config, tmp_path).fit()
    again = fresh(MLP, 1)
    summary = Trainer(again, Regression(), regression_data(8), config, tmp_path).fit(resume=True)
    assert summary.steps == 3
    assert_same_weights(model, again)
