"""The engine has two time loops: the Python one (``timeloop.Run``, every cell and device) and
the compiled one (``compiled.NativeRun``, on CPU where a C++ compiler built it). Engine tests that
use the ``time_loop`` fixture run once on each."""

from __future__ import annotations

import pytest
import torch

from rnnkit.unroll import compiled
from rnnkit.unroll.pointwise.matmul import onednn_products


@pytest.fixture(params=["python", "compiled"])
def time_loop(request):
    if request.param == "python":
        with compiled.python_loop_only():
            yield request.param
        return
    if compiled.native_module() is None:
        pytest.skip("the compiled time loop could not be built here (no C++ compiler?)")
    yield request.param


@pytest.fixture(params=["onednn", "mm"])
def products(request):
    """The products on oneDNN by the AVX-512 rule, then all on ``mm``, whatever this CPU would
    choose."""
    if request.param == "onednn" and not torch.backends.mkldnn.is_available():
        pytest.skip("this build of torch has no oneDNN")
    with onednn_products(request.param == "onednn"):
        yield request.param
