"""The engine (hand-written BPTT) against the reference loop, which defines the behaviour.

Every cell and option, with lengths and in both directions: outputs, final states and the
gradients of all inputs (sequence, initial state, every parameter) in float64, plus
``torch.autograd.gradcheck`` of the engine's own backward. Every test runs on both of the engine's
time loops, the Python one and the compiled one (``conftest.time_loop``).
"""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.unroll import unroll
from rnnkit.unroll.engine import engine_beats_fused, engine_unroll, fast_unroll, has_engine

pytestmark = pytest.mark.usefixtures("time_loop")

B, T, I, H = 3, 6, 4, 5
LENGTHS = torch.tensor([6, 2, 4])
f64 = torch.float64

CELLS = {
    "lstm": (rk.LSTMCell, {}),
    "lstm-layer_norm": (rk.LSTMCell, {"layer_norm": True}),
    "lstm-peephole": (rk.LSTMCell, {"peephole": True}),
    "lstm-both": (rk.LSTMCell, {"layer_norm": True, "peephole": True}),
    "lstm-no-bias": (rk.LSTMCell, {"bias": False}),
    "lstm-layer_norm-no-bias": (rk.LSTMCell, {"layer_norm": True, "bias": False}),
    "gru-after": (rk.GRUCell, {}),
    "gru-after-no-bias": (rk.GRUCell, {"bias": False}),
    "gru-before": (rk.GRUCell, {"reset": "before"}),
    "rnn-tanh": (rk.RNNCell, {}),
    "rnn-relu": (rk.RNNCell, {"nonlinearity": "relu"}),
    "leaky": (rk.LeakyCell, {}),
}

MASK = torch.rand(B, H, dtype=f64, generator=torch.Generator().manual_seed(1)) * 2
OPTIONS = {
    "plain": {},
    "lengths": {"lengths": LENGTHS},
    "reverse": {"reverse": True},
    "reverse-lengths": {"reverse": True, "lengths": LENGTHS},
    "dilation-3-lengths": {"dilation": 3, "lengths": LENGTHS},
    "recurrent-mask": {"recurrent_mask": MASK, "lengths": LENGTHS},
    "zoneout-eval": {"zoneout": 0.3, "reverse": True},
    "zoneout-train": {"zoneout": 0.3, "training": True, "lengths": LENGTHS},
    "everything": {
        "lengths": LENGTHS,
        "reverse": True,
        "dilation": 2,
        "recurrent_mask": MASK,
        "zoneout": 0.2,
        "training": True,
    },
}


def make_cell(name):
    cls, options = CELLS[name]
    cell = cls(I, H, **options).double()
    with torch.no_grad():  # random values everywhere (biases, gains), so that every term counts
        for p in cell.parameters():
            p.normal_(0.0, 0.5)
    return cell


def random_state(cell):
    state = cell.initial_state(B, dtype=f64)
    if isinstance(state, tuple):
        return tuple(s.normal_().requires_grad_() for s in state)
    return state.normal_().requires_grad_()


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def run_and_differentiate(fn, cell, x, state, options):
    """Outputs, final states and the gradients of a loss that weighs every output differently."""
    torch.manual_seed(7)  # zoneout draws its masks: both runs see the same stream
    options = dict(options)
    lengths = options.pop("lengths", None)
    out, final = fn(cell, x, lengths, state, **options)
    weights = torch.linspace(-1, 1, out.numel(), dtype=f64).reshape(out.shape)
    loss = (out * weights).sum() + sum((f * f.sin()).sum() for f in as_tuple(final))
    inputs = [x, *as_tuple(state), *cell.parameters()]
    return out, as_tuple(final), torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("name", CELLS)
def test_engine_equals_reference_values_and_gradients(name, option):
    cell = make_cell(name)
    x = torch.randn(B, T, I, dtype=f64, requires_grad=True)
    state = random_state(cell)
    want = run_and_differentiate(unroll, cell, x, state, OPTIONS[option])
    got = run_and_differentiate(engine_unroll, cell, x, state, OPTIONS[option])
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])
    for g, w, what in zip(got[2], want[2], ["x", "state", *dict(cell.named_parameters())]):
        torch.testing.assert_close(g, w, msg=lambda m, what=what: f"gradient of {what}: {m}")


@pytest.mark.parametrize("name", CELLS)
def test_engine_gradcheck_float64(name):
    """The hand-written backward against finite differences, with every option at once."""
    cell = make_cell(name)
    x = torch.randn(B, T, I, dtype=f64, requires_grad=True)
    state = random_state(cell)
    params = list(cell.parameters())

    def run(x, *inputs):
        options = {"reverse": True, "dilation": 2, "recurrent_mask": MASK, "zoneout": 0.2}
        initial = inputs[: len(as_tuple(state))]
        initial = tuple(initial) if isinstance(state, tuple) else initial[0]
        out, final = engine_unroll(cell, x, LENGTHS, initial, **options)
        return (out, *as_tuple(final))

    assert torch.autograd.gradcheck(run, (x, *as_tuple(state), *params))


@pytest.mark.parametrize(
    "name", ["lstm-layer_norm", "lstm-layer_norm-no-bias", "lstm-both", "gru-before", "leaky"]
)
def test_inference_equals_training_forward(name):
    """Under no_grad the engine keeps nothing for a backward, and computes the same values."""
    cell = make_cell(name)
    x = torch.randn(B, T, I, dtype=f64)
    trained, trained_final = engine_unroll(cell, x, LENGTHS, reverse=True, dilation=2)
    assert trained.requires_grad
    with torch.no_grad():
        inferred, inferred_final = engine_unroll(cell, x, LENGTHS, reverse=True, dilation=2)
    torch.testing.assert_close(inferred, trained.detach())
    torch.testing.assert_close(
        as_tuple(inferred_final), tuple(f.detach() for f in as_tuple(trained_final))
    )


@pytest.mark.parametrize("zoneout", [0.0, 0.3])
def test_backward_can_run_twice(zoneout):
    """``retain_graph=True``: the backward rebuilds every derived buffer, so it may run again."""
    cell = make_cell("lstm-both")
    x = torch.randn(B, T, I, dtype=f64, requires_grad=True)
    out, _ = engine_unroll(cell, x, LENGTHS, zoneout=zoneout, training=True)
    first = torch.autograd.grad(out.sum(), x, retain_graph=True)[0]
    second = torch.autograd.grad(out.sum(), x)[0]
    torch.testing.assert_close(first, second)


def _engine_node(out: torch.Tensor):
    """The engine's node in the autograd graph behind ``out``."""
    pending = [out.grad_fn]
    while pending:
        node = pending.pop()
        if node is not None and type(node).__name__ == "_EngineFunctionBackward":
            return node
        pending += [] if node is None else [n for n, _ in node.next_functions]
    raise AssertionError("no engine node in the graph")


@pytest.mark.parametrize("zoneout", [0.0, 0.3])
@pytest.mark.parametrize("name", list(CELLS))
def test_the_backward_leaves_no_workspace_behind(name, zoneout):
    """Autograd frees the saved workspaces once the engine's backward has run, and the kernel,
    which lives as long as the graph, holds none: the backward of whatever lies below (the input
    projection, lower layers) runs without them."""
    cell = make_cell(name)
    x = torch.randn(B, T, I, dtype=f64, requires_grad=True)
    out, _ = engine_unroll(cell, x, LENGTHS, zoneout=zoneout, training=True)
    node = _engine_node(out)
    out.sum().backward()
    with pytest.raises(RuntimeError, match="freed"):
        _ = node.saved_tensors
    kernel = node.kernel
    assert all(getattr(kernel, name) is None for name in kernel.saved)
    per_step = [k for k, v in vars(kernel).items() if torch.is_tensor(v) and v.shape[:1] == (T,)]
    assert per_step == []


@pytest.mark.parametrize("dtype", [torch.float32, f64])
@pytest.mark.parametrize(
    "name", ["lstm-peephole", "lstm-layer_norm", "gru-after", "gru-before", "leaky"]
)
def test_wide_layers_match_reference(name, dtype, products):
    """Wide enough for the engine's CPU fast paths: tanh through a sigmoid (from 2048 elements)
    and, in float32 by the AVX-512 rule, oneDNN products (from 2**21 multiply-adds)."""
    cls, options = CELLS[name]
    cell = cls(I, 400, **options).to(dtype)
    x = torch.randn(16, 3, I, dtype=dtype, requires_grad=True)
    lengths = torch.tensor([3, 1, 2, 3] * 4)
    want, want_final = unroll(cell, x, lengths)
    got, got_final = engine_unroll(cell, x, lengths)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_final, want_final)
    weights = torch.randn_like(got)
    want_grad = torch.autograd.grad((want * weights).sum(), [x, *cell.parameters()])
    got_grad = torch.autograd.grad((got * weights).sum(), [x, *cell.parameters()])
    # float32 sums of 1600 products, in another order: rounding reaches a few 1e-5
    tolerance = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {}
    torch.testing.assert_close(got_grad, want_grad, **tolerance)


class _MyLSTM(rk.LSTMCell):
    """A user's variant: its step differs, so the engine's kernel does not describe it."""

    def step(self, xp_t, state, recurrent_mask=None):
        y, (h, c) = super().step(xp_t, state, recurrent_mask)
        return 2 * y, (2 * h, c)


def test_changed_cells_run_on_the_reference_loop(monkeypatch):
    assert has_engine(rk.LSTMCell(I, H))
    custom = _MyLSTM(I, H)
    assert not has_engine(custom)
    x = torch.randn(B, T, I)
    torch.testing.assert_close(fast_unroll(custom, x)[0], unroll(custom, x)[0])
    monkeypatch.setattr(rk.GRUCell, "step", lambda self, xp_t, state, mask=None: (state, state))
    assert not has_engine(rk.GRUCell(I, H))


def test_no_kernel_is_an_error():
    with pytest.raises(TypeError, match="no engine kernel for _MyLSTM"):
        engine_unroll(_MyLSTM(I, H), torch.randn(B, T, I))


def test_engine_beats_fused_rules(time_loop):
    """CPU: GRUs always; LSTMs with lengths in training, and in inference on the compiled loop;
    never on GPU."""
    lstm, gru = [rk.LSTMCell(I, H)], [rk.GRUCell(I, H)]
    x = torch.randn(B, T, I)
    assert engine_beats_fused(gru, x, None)
    assert not engine_beats_fused(lstm, x, None)
    assert engine_beats_fused(lstm, x, LENGTHS)
    with torch.no_grad():
        assert engine_beats_fused(lstm, x, LENGTHS) == (time_loop == "compiled")
    assert not engine_beats_fused(gru, x.to("meta"), None)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", CELLS)
def test_engine_on_cuda_equals_reference(name):
    cell = make_cell(name).cuda()
    x = torch.randn(B, T, I, dtype=f64, device="cuda", requires_grad=True)
    state = tuple(s.cuda() for s in as_tuple(random_state(cell)))
    state = state if len(state) > 1 else state[0]
    options = dict(OPTIONS["everything"], recurrent_mask=MASK.cuda(), lengths=LENGTHS.cuda())
    options.pop("training")  # seeded CPU and CUDA streams differ; evaluation zoneout is exact
    want = run_and_differentiate(unroll, cell, x, state, options)
    got = run_and_differentiate(engine_unroll, cell, x, state, options)
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])
    torch.testing.assert_close(got[2], want[2])


def test_a_state_of_the_wrong_shape_or_dtype_is_refused():
    cell = make_cell("gru-after")
    x = torch.randn(B, T, I, dtype=f64)
    with pytest.raises(ValueError, match=r"\(3, 5\), torch.float64 on cpu .* got \(2, 5\)"):
        engine_unroll(cell, x, state=torch.zeros(2, H, dtype=f64))
    with pytest.raises(ValueError, match=r"got \(3, 5\), torch.float32"):
        engine_unroll(cell, x, state=torch.zeros(B, H))


def test_a_recurrent_mask_broadcasts_over_the_batch_and_takes_the_input_dtype():
    cell = make_cell("lstm-peephole")
    x = torch.randn(B, T, I, dtype=f64)
    row = MASK[:1].float()
    got, _ = engine_unroll(cell, x, recurrent_mask=row)
    want, _ = unroll(cell, x, recurrent_mask=row.double().expand(B, H))
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", ["lstm-both", "gru-before", "leaky"])
def test_no_steps_give_an_empty_output_and_the_initial_state(name):
    cell = make_cell(name)
    x = torch.randn(B, 0, I, dtype=f64)
    state = random_state(cell)
    for run in (engine_unroll, unroll):
        out, final = run(cell, x, state=state)
        assert out.shape == (B, 0, H)
        for f, s in zip(as_tuple(final), as_tuple(state), strict=True):
            torch.testing.assert_close(f, s)
