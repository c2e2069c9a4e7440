import pytest
import torch


@pytest.fixture
def single_thread():
    """Tiny models train several times faster on one thread (no cross-thread sync per small op),
    and a loaded machine does not stall them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
