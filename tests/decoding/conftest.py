"""A small random decoder whose next-token distribution depends on the whole prefix."""

import pytest
import torch

from rnnkit.patterns import RecurrentDecoder


@pytest.fixture
def toy_decoder():
    def build(vocab=4, context=5, seed=0, cell="gru", memory=None):
        """``memory``: the feature size of a memory to attend to (Luong), or None."""
        torch.manual_seed(seed)
        attention = {} if memory is None else {"attention": "luong", "memory_size": memory}
        decoder = RecurrentDecoder(vocab, 6, 8, cell=cell, context_size=context, **attention)
        decoder.eval()
        with torch.no_grad():  # sharpen the distributions so that rows disagree
            decoder.out.weight.mul_(3.0)
        return decoder

    return build
