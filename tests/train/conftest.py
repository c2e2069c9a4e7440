"""Setup for the training tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """The toy models are tiny: a second intra-op thread only adds synchronisation, which
    costs seconds on a busy 2-core machine. Restored afterwards for the rest of the suite."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
