"""The engine has two time loops: the Python one (``timeloop.Run``, every cell and device) and
the compiled one (``compiled.NativeRun``, on CPU where a C++ compiler built it). Engine tests that
use the ``time_loop`` fixture run once on each."""

from __future__ import annotations

import pytest

from rnnkit.unroll import compiled


@pytest.fixture(params=["python", "compiled"])
def time_loop(request):
    if request.param == "python":
        with compiled.python_loop_only():
            yield request.param
        return
    if compiled.native_module() is None:
        pytest.skip("the compiled time loop could not be built here (no C++ compiler?)")
    yield request.param
