"""The compiled loop's workspace pool: buffers are reused across calls, and never while anything
still holds them (autograd's saved buffers, an output the caller keeps, a retained graph)."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.unroll import compiled, release_workspaces, workspace_bytes
from rnnkit.unroll.engine import engine_unroll


@pytest.fixture(autouse=True)
def _empty_pool():
    if compiled.native_module() is None:
        pytest.skip("the compiled time loop could not be built here (no C++ compiler?)")
    release_workspaces()
    yield
    release_workspaces()


def _cell():
    torch.manual_seed(0)
    return rk.LSTMCell(6, 8, layer_norm=True)


def _training_step(cell, x, lengths=None):
    out, (h, c) = engine_unroll(cell, x, lengths)
    (out.square().sum() + h.sum() + c.sum()).backward()
    return [p.grad.clone() for p in cell.parameters()]


def test_a_training_loop_reuses_its_buffers():
    cell, x = _cell(), torch.randn(3, 7, 6)
    _training_step(cell, x)
    held_after_one, free_after_one = workspace_bytes()
    assert held_after_one > 0 and free_after_one == held_after_one  # all back once the graph went
    for _ in range(5):
        _training_step(cell, x)
    assert workspace_bytes() == (held_after_one, held_after_one)


def test_a_buffer_serves_a_smaller_call():
    cell = _cell()
    _training_step(cell, torch.randn(3, 7, 6))
    held = workspace_bytes()[0]
    _training_step(cell, torch.randn(3, 5, 6))  # 5 steps: fits the 7-step buffers
    assert workspace_bytes()[0] == held


def test_reused_buffers_give_the_same_gradients_as_fresh_ones():
    cell, x = _cell(), torch.randn(3, 7, 6)
    lengths = torch.tensor([7, 4, 2])
    first = _training_step(cell, x, lengths)
    for p in cell.parameters():
        p.grad = None
    _training_step(cell, torch.randn(3, 7, 6))  # another call writes the pooled buffers
    for p in cell.parameters():
        p.grad = None
    again = _training_step(cell, x, lengths)
    for a, b in zip(first, again, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("grad", [False, True])
def test_an_output_the_caller_keeps_is_never_overwritten(grad):
    cell = _cell()
    with torch.set_grad_enabled(grad):
        out, _ = engine_unroll(cell, torch.randn(3, 7, 6))
        kept = out.detach().clone()
        for _ in range(3):  # same shapes: would take the same buffers if out's were free
            engine_unroll(cell, torch.randn(3, 7, 6))
    torch.testing.assert_close(out.detach(), kept, rtol=0, atol=0)
    assert workspace_bytes()[1] < workspace_bytes()[0]  # out's slot is still in use


def test_a_retained_graph_keeps_its_buffers_between_backwards():
    cell, x = _cell(), torch.randn(3, 7, 6)
    out, _ = engine_unroll(cell, x)
    loss = out.square().sum()
    (first,) = torch.autograd.grad(loss, cell.weight_hh, retain_graph=True)
    _training_step(cell, torch.randn(3, 7, 6))  # in between, a call that wants free buffers
    (second,) = torch.autograd.grad(loss, cell.weight_hh)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_release_gives_back_only_free_buffers():
    cell = _cell()
    _training_step(cell, torch.randn(3, 7, 6))
    with torch.no_grad():
        out, _ = engine_unroll(cell, torch.randn(3, 9, 6))  # its slot stays in use
    release_workspaces()
    held, free = workspace_bytes()
    assert free == 0
    assert held >= out.numel() * out.element_size()


def test_a_shape_not_seen_again_is_let_go():
    cell = _cell()
    _training_step(cell, torch.randn(3, 40, 6))
    held = workspace_bytes()[0]
    for _ in range(300):  # a few hundred requests of a much smaller shape
        _training_step(cell, torch.randn(2, 3, 6))
    assert workspace_bytes()[0] < held / 4
