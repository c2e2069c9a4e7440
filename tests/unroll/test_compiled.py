"""The compiled time loop: where it runs, that it computes what the Python loop does at the sizes
where the products move to oneDNN and the rows of a step are shared among threads, and that the
engine carries on without it.

Its equivalence with the reference loop, cell by cell and option by option, is test_engine.py's
(every test there runs on both loops)."""

from __future__ import annotations

import warnings

import pytest
import torch

import rnnkit as rk
from rnnkit.unroll import compiled
from rnnkit.unroll.engine import engine_unroll
from rnnkit.unroll.pointwise.matmul import onednn_products
from rnnkit.unroll.reference import unroll

CELLS = {
    "lstm": lambda i, h: rk.LSTMCell(i, h),
    "lstm-peephole": lambda i, h: rk.LSTMCell(i, h, peephole=True),
    "lstm-layer_norm": lambda i, h: rk.LSTMCell(i, h, layer_norm=True),
    "lstm-both": lambda i, h: rk.LSTMCell(i, h, layer_norm=True, peephole=True),
    "gru-after": lambda i, h: rk.GRUCell(i, h),
    "gru-before": lambda i, h: rk.GRUCell(i, h, reset="before"),
    "rnn-relu": lambda i, h: rk.RNNCell(i, h, nonlinearity="relu"),
    "leaky": lambda i, h: rk.LeakyCell(i, h),
}


@pytest.fixture(autouse=True)
def _needs_compiled_loop():
    if compiled.native_module() is None:
        pytest.skip("the compiled time loop could not be built here (no C++ compiler?)")


def _runs_compiled(monkeypatch, cell, x) -> bool:
    calls = []
    original = compiled.NativeRun.forward
    monkeypatch.setattr(
        compiled.NativeRun,
        "forward",
        lambda self, *a, **k: calls.append(1) or original(self, *a, **k),
    )
    engine_unroll(cell, x)
    return bool(calls)


@pytest.mark.parametrize("name", CELLS)
def test_every_cell_runs_compiled(monkeypatch, name):
    x = torch.randn(2, 3, 4)
    assert _runs_compiled(monkeypatch, CELLS[name](4, 5), x)
    assert _runs_compiled(monkeypatch, CELLS[name](4, 5).double(), x.double())


def test_what_the_compiled_loop_does_not_cover_runs_in_python(monkeypatch):
    x = torch.randn(2, 3, 4)
    assert not _runs_compiled(monkeypatch, rk.LSTMCell(4, 5).bfloat16(), x.bfloat16())
    with compiled.python_loop_only():
        assert not _runs_compiled(monkeypatch, rk.LSTMCell(4, 5), x)


def _values_and_gradients(cell, x, **options):
    cell.zero_grad()
    x.grad = None
    torch.manual_seed(3)
    out, final = engine_unroll(cell, x, **options)
    finals = final if isinstance(final, tuple) else (final,)
    weights = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
    ((out * weights).sum() + sum(f.sum() for f in finals)).backward()
    return [out.detach(), *finals, x.grad] + [p.grad for p in cell.parameters()]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", CELLS)
def test_large_float32_layers_match_the_python_loop(name, threads, products):
    """(64, 5, 256, 256): products large enough for oneDNN, a step's rows split among threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        cell = CELLS[name](256, 256)
        x = torch.randn(64, 5, 256, requires_grad=True)
        lengths = torch.randint(1, 6, (64,))
        options = {"lengths": lengths, "recurrent_mask": torch.rand(64, 256) * 1.25}
        got = _values_and_gradients(cell, x, **options)
        with compiled.python_loop_only():
            want = _values_and_gradients(cell, x, **options)
    finally:
        torch.set_num_threads(before)
    for g, w in zip(got, want, strict=True):  # float32: rounding, relative to the tensor's scale
        assert (g - w).abs().max() <= 1e-4 * w.abs().max()


@pytest.mark.parametrize("name", CELLS)
def test_a_one_unit_cell_matches_the_python_loop(name):
    """W_hh^T of one unit is (1, G) with strides (1, 1), which BLAS must read as packed."""
    torch.manual_seed(0)
    cell = CELLS[name](3, 1).double()
    x = torch.randn(4, 6, 3, dtype=torch.float64, requires_grad=True)
    options = {"lengths": torch.tensor([6, 2, 5, 1])}
    got = _values_and_gradients(cell, x, **options)
    with compiled.python_loop_only():
        want = _values_and_gradients(cell, x, **options)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


@pytest.mark.parametrize("name", CELLS)
def test_large_float32_inference_matches_the_python_loop(name, products):
    """The same in inference, where the loop keeps one row of buffers and the layer-norm LSTM's
    loop normalises the projected input itself."""
    torch.manual_seed(0)
    cell = CELLS[name](256, 256)
    x = torch.randn(64, 5, 256)
    lengths = torch.randint(1, 6, (64,))
    with torch.no_grad():
        got = engine_unroll(cell, x, lengths, zoneout=0.2, reverse=True)
        with compiled.python_loop_only():
            want = engine_unroll(cell, x, lengths, zoneout=0.2, reverse=True)
    for g, w in zip(torch.utils._pytree.tree_leaves(got), torch.utils._pytree.tree_leaves(want)):
        assert (g - w).abs().max() <= 1e-4 * w.abs().max()


def test_packed_weights_kept_between_calls_follow_every_change():
    """Inference keeps W_hh packed for oneDNN from call to call; a write the version counter
    misses (through .data) must still reach the next call."""
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this build of torch has no oneDNN")
    torch.manual_seed(0)
    cell = rk.LSTMCell(256, 256, peephole=True)
    x = torch.randn(64, 3, 256)
    with torch.no_grad(), onednn_products(True):
        first, _ = engine_unroll(cell, x)
        torch.testing.assert_close(engine_unroll(cell, x)[0], first, rtol=0, atol=0)
        cell.weight_hh.data.mul_(-0.5)
        got, _ = engine_unroll(cell, x)
        with compiled.python_loop_only():
            want, _ = engine_unroll(cell, x)
    assert not torch.allclose(got, first)
    assert (got - want).abs().max() <= 1e-4 * want.abs().max()


@pytest.mark.parametrize("p", [0.3, 0.7])
def test_zoneout_in_evaluation_interpolates_like_torch_lerp(p):
    """Evaluation keeps p of the previous state: both of torch.lerp's formulas (p < 0.5, p >= 0.5),
    exactly as the reference loop rounds them."""
    cell = rk.GRUCell(3, 4).double()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    got, _ = engine_unroll(cell, x, zoneout=p, training=False)
    want, _ = unroll(cell, x, zoneout=p, training=False)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-15)


def _failed_build():
    raise RuntimeError(
        "Error building extension 'rnnkit_native'\n[1/2] c++ -MMD -c engine.cpp -o engine.o\n"
        "FAILED: engine.o\nengine.cpp:13:10: fatal error: torch/extension.h: No such file\n"
        "ninja: build stopped: subcommand failed."
    )


@pytest.mark.parametrize(
    "breakage, reason",
    [
        ({"CXX": "no-such-compiler"}, "no C\\+\\+ compiler: 'no-such-compiler' is not on PATH"),
        ({"_build": _failed_build}, "fatal error: torch/extension.h: No such file"),
    ],
)
def test_without_a_build_the_engine_warns_once_and_runs_in_python(monkeypatch, breakage, reason):
    if "CXX" in breakage:
        monkeypatch.setenv("CXX", breakage["CXX"])
    else:
        monkeypatch.setattr(compiled, "_build", breakage["_build"])
    compiled.native_module.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match=reason):
            assert compiled.native_module() is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert compiled.native_module() is None  # no second attempt, no second warning
        cell = rk.GRUCell(4, 5)
        x = torch.randn(2, 3, 4)
        out, _ = engine_unroll(cell, x)
        torch.testing.assert_close(out, unroll(cell, x)[0])
    finally:
        monkeypatch.undo()
        compiled.native_module.cache_clear()


def test_rnnkit_native_0_turns_it_off(monkeypatch):
    monkeypatch.setenv("RNNKIT_NATIVE", "0")
    compiled.native_module.cache_clear()
    try:
        assert compiled.native_module() is None
    finally:
        monkeypatch.undo()
        compiled.native_module.cache_clear()
