"""The lecture's claim, as the docs report it: on the adding problem with the default budget,
the Elman RNN stays at chance while the LSTM solves it (about a minute on 2 cores: slow)."""

import pytest
import torch

from rnnkit.tasks.longrange.adding import CHANCE_MSE
from rnnkit.tasks.longrange.sweep import format_table, run_sweep


@pytest.mark.slow
def test_elman_fails_where_lstm_succeeds_at_length_50():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_sweep("adding", ["rnn", "lstm"], [50], log=lambda line: None)
    finally:
        torch.set_num_threads(threads)
    assert result.scores["rnn", 50] > 0.9 * CHANCE_MSE, format_table(result)
    assert result.solved["lstm", 50] and not result.solved["rnn", 50], format_table(result)
