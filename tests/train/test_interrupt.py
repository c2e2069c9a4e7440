"""Ctrl-C and SIGTERM stop a run after the current step, checkpointed, so resuming loses nothing."""

from __future__ import annotations

import os
import signal
import threading

import pytest
import torch

from rnnkit.train import TrainConfig, Trainer, TrainingInterrupted, latest_checkpoint

from .toys import MLP, Regression, logged_rows, regression_data

CONFIG = TrainConfig(
    max_steps=20, batch_size=8, eval_every=5, checkpoint_every=10, progress=False, log_every=1
)


class SignalAt(Regression):
    """Sends itself `signum`, `times` times in a row, during the loss of step `step` (1-based)."""

    def __init__(self, step: int, signum: int = signal.SIGINT, times: int = 1) -> None:
        self.step, self.signum, self.times = step, signum, times
        self.calls = 0

    def loss(self, model, batch):
        self.calls += 1
        if self.calls == self.step:
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)
        return super().loss(model, batch)


def trained(objective, out_dir, resume=False, seed=0):
    torch.manual_seed(seed)
    model = MLP(dropout=0.3)
    data, dev = regression_data(24), regression_data(8, seed=1)
    Trainer(model, objective, data, CONFIG, out_dir, dev_set=dev).fit(resume=resume)
    return model


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_checkpoints_the_step_under_way_and_resuming_is_exact(tmp_path, signum, capsys):
    whole = trained(Regression(), tmp_path / "whole")

    with pytest.raises(TrainingInterrupted) as stopped:
        trained(SignalAt(7, signum), tmp_path / "split")
    assert stopped.value.step == 7  # not a multiple of checkpoint_every: written for the stop
    assert stopped.value.checkpoint == latest_checkpoint(tmp_path / "split")
    assert stopped.value.checkpoint.name == "step-00000007"
    assert "stopping after this step and saving a checkpoint" in capsys.readouterr().err
    resumed = trained(Regression(), tmp_path / "split", resume=True, seed=99)

    for p, q in zip(whole.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)
    assert logged_rows(tmp_path / "whole") == logged_rows(tmp_path / "split")


def test_a_second_signal_stops_at_once_without_a_checkpoint(tmp_path):
    with pytest.raises(KeyboardInterrupt) as stopped:
        trained(SignalAt(7, times=2), tmp_path / "run")
    assert not isinstance(stopped.value, TrainingInterrupted)
    assert latest_checkpoint(tmp_path / "run") is None  # the first periodic one is at step 10


def test_handlers_are_put_back_and_a_programs_own_handler_is_left_alone(tmp_path):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    trained(Regression(), tmp_path / "plain")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before

    seen = []
    signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        trained(SignalAt(7), tmp_path / "own")  # the program's handler gets it; training goes on
    finally:
        signal.signal(signal.SIGINT, before[0])
    assert seen == [signal.SIGINT]
    assert latest_checkpoint(tmp_path / "own").name == "step-00000020"


def test_training_in_another_thread_installs_nothing(tmp_path):
    errors = []

    def train():
        try:
            trained(Regression(), tmp_path / "thread")
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    thread = threading.Thread(target=train)
    thread.start()
    thread.join()
    assert errors == []
    assert latest_checkpoint(tmp_path / "thread").name == "step-00000020"
