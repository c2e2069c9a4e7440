"""Truncated BPTT: one chunk is full BPTT; shorter chunks are the textbook TBPTT loop."""

from __future__ import annotations

import pytest
import torch

from rnnkit.train import TrainConfig, Trainer
from rnnkit.train.data import BatchOrder

from .toys import STEPS, SeqModel, SeqRegression, flat_params, sequence_data

SGD = {"optimizer": "sgd", "lr": 0.05, "batch_size": 4, "max_steps": 4, "progress": False}


def trained(tmp_path, name, **config):
    torch.manual_seed(0)
    model = SeqModel()
    data = sequence_data(8)
    Trainer(model, SeqRegression(), data, TrainConfig(**SGD, **config), tmp_path / name).fit()
    return model


@pytest.mark.parametrize("k", [STEPS, STEPS + 7])
def test_chunks_of_at_least_the_sequence_length_are_full_bptt(tmp_path, k):
    full = trained(tmp_path, "full")
    truncated = trained(tmp_path, "tbptt", tbptt=k)
    assert torch.equal(flat_params(full), flat_params(truncated))


def test_short_chunks_follow_the_reference_tbptt_loop(tmp_path):
    """Each chunk starts from the previous chunk's final state, detached, and gets an update."""
    k = 5
    model = trained(tmp_path, "tbptt", tbptt=k)

    torch.manual_seed(0)
    reference = SeqModel()
    data = sequence_data(8)
    order = BatchOrder(len(data), 4, seed=0)
    for step in range(SGD["max_steps"]):
        x = torch.stack([data[i][0] for i in order.global_batch(step)])
        y = torch.stack([data[i][1] for i in order.global_batch(step)])
        state = None
        for start in range(0, STEPS, k):
            out, state = reference.lstm(x[:, start : start + k], state)
            loss = ((reference.head(out) - y[:, start : start + k]) ** 2).mean()
            reference.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in reference.parameters():
                    p -= SGD["lr"] * p.grad
            state = tuple(s.detach() for s in state)
    torch.testing.assert_close(flat_params(model), flat_params(reference))
    full = trained(tmp_path, "full")
    assert not torch.allclose(flat_params(model), flat_params(full))  # truncation did happen


def test_tbptt_needs_the_chunked_objective(tmp_path):
    class FullOnly:
        def collate(self, examples): ...
        def loss(self, model, batch): ...

    config = TrainConfig(**SGD, tbptt=3)
    with pytest.raises(TypeError, match="lacks split_time, loss_with_state"):
        Trainer(SeqModel(), FullOnly(), sequence_data(8), config, tmp_path)
