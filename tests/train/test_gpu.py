"""Training on CUDA: same weights as on the CPU (to float tolerance), checkpoints load back."""

from __future__ import annotations

import copy

import pytest
import torch

from rnnkit.train import TrainConfig, Trainer, latest_checkpoint, load_checkpoint

from .toys import SeqModel, SeqRegression, flat_params, sequence_data

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_cuda_training_matches_the_cpu(tmp_path):
    config = TrainConfig(max_steps=5, batch_size=8, tbptt=5, optimizer="sgd", lr=0.1)
    config = config.replace(progress=False, clip_norm=1.0)
    torch.manual_seed(0)
    cpu = SeqModel()
    gpu = copy.deepcopy(cpu)
    data = sequence_data(16)
    Trainer(cpu, SeqRegression(), data, config, tmp_path / "cpu").fit()
    Trainer(gpu, SeqRegression(), data, config.replace(device="cuda"), tmp_path / "gpu").fit()
    assert all(p.is_cuda for p in gpu.parameters())
    torch.testing.assert_close(flat_params(gpu).cpu(), flat_params(cpu), rtol=1e-4, atol=1e-5)

    restored = SeqModel().cuda()
    load_checkpoint(latest_checkpoint(tmp_path / "gpu"), restored, device="cuda")
    assert torch.equal(flat_params(restored), flat_params(gpu))
