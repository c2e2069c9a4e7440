"""Shared test setup for the core suite, and the hand-written loop that layers are checked against.

The manual loop below deliberately shares no code with rnnkit's engine: it runs every sequence of a
batch on its own, only over its real steps, calling the cell one step at a time. A backward
direction simply runs the flipped sequence. Layers must equal it, whatever path they take.
"""

from __future__ import annotations

import pytest
import torch

# Test tensors are tiny: one intra-op thread is fastest, and with the 2 cores busy (several
# pytest runs at once) a second OpenMP thread spin-waiting made small ops up to 100x slower.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


def _like(parts, template):
    return tuple(parts) if isinstance(template, tuple) else parts[0]


def run_sequence(cell, xs, state, *, dilation=1, zoneout=0.0, mask=None):
    """Run ``cell`` over one sequence ``xs`` (L, I) from ``state`` (batch of one).

    Step t reads the state written at step t - dilation (the initial state before the start).
    ``zoneout`` uses its evaluation form p * previous + (1 - p) * new; ``mask`` is a recurrent
    dropout mask (1, H) applied to the state entering the recurrent product only.
    Returns the outputs (L, H) and the state after the last step.
    """
    history = [state]  # history[k]: the state after step k - 1
    outputs = []
    for t in range(xs.shape[0]):
        previous = history[max(0, t + 1 - dilation)]
        x_t = xs[t : t + 1]
        if mask is None:
            y, new = cell(x_t, previous)
        else:
            y, new = cell.step(cell.project_input(x_t), previous, mask)
        if zoneout:
            new = _like(
                [
                    zoneout * p + (1 - zoneout) * n
                    for p, n in zip(_parts(previous), _parts(new), strict=True)
                ],
                new,
            )
            y = _parts(new)[0]
        history.append(new)
        outputs.append(y)
    return torch.cat(outputs), history[-1]


def merge_directions(merge, forward, backward):
    if merge == "concat":
        return torch.cat([forward, backward], dim=-1)
    if merge == "sum":
        return forward + backward
    if merge == "mul":
        return forward * backward
    if merge == "ave":
        return (forward + backward) / 2
    raise AssertionError(merge)


def manual_recurrent(rnn, x, lengths=None, state=None, masks=None):
    """What ``rnn(x, lengths, state)`` must return, computed sequence by sequence and step by step.

    ``x`` is batch-first (B, T, I); ``lengths`` a list of ints or None; ``state`` in PyTorch layout
    or None (zeros, or the learned initial state); ``masks`` maps a cell index to its (B, H)
    recurrent dropout mask. Dropout between layers is not modelled: use it in eval mode only.
    """
    batch, steps, _ = x.shape
    lengths = [steps] * batch if lengths is None else [int(n) for n in lengths]
    directions, hidden = rnn.num_directions, rnn.hidden_size
    count = rnn.num_layers * directions
    is_tuple = isinstance(rnn.cells[0].initial_state(1), tuple)
    if state is None:
        if rnn.learn_init:
            state = tuple(p.unsqueeze(1).expand(count, batch, hidden) for p in rnn.initial)
        else:
            state = tuple(x.new_zeros(count, batch, hidden) for _ in range(2 if is_tuple else 1))
    state = _parts(state)

    finals = [[None] * batch for _ in range(count)]
    layer_input = x
    for layer in range(rnn.num_layers):
        outs = []
        for direction in range(directions):
            index = layer * directions + direction
            cell = rnn.cells[index]
            out = x.new_zeros(batch, steps, hidden)
            for b, length in enumerate(lengths):
                xs = layer_input[b, :length]
                if direction == 1:
                    xs = xs.flip(0)
                initial = tuple(s[index, b : b + 1] for s in state)
                if not is_tuple:
                    initial = initial[0]
                ys, final = run_sequence(
                    cell,
                    xs,
                    initial,
                    dilation=rnn.dilations[layer],
                    zoneout=rnn.zoneout,
                    mask=None if masks is None else masks[index][b : b + 1],
                )
                out[b, :length] = ys.flip(0) if direction == 1 else ys
                finals[index][b] = final
            outs.append(out)
        last = layer == rnn.num_layers - 1
        if directions == 2:
            out = merge_directions(rnn.merge if last else "concat", *outs)
        else:
            out = outs[0]
        if rnn.residual:
            out = out + rnn.skips[layer](layer_input)
        layer_input = out

    out = layer_input.clone()
    for b, length in enumerate(lengths):
        out[b, length:] = 0.0
    parts = [
        torch.stack([torch.cat([_parts(f)[k] for f in row]) for row in finals])
        for k in range(2 if is_tuple else 1)
    ]
    return out, (tuple(parts) if is_tuple else parts[0])


class _Manual:
    run_sequence = staticmethod(run_sequence)
    merge_directions = staticmethod(merge_directions)
    recurrent = staticmethod(manual_recurrent)


@pytest.fixture(scope="session")
def manual():
    """The hand-written loops: ``manual.recurrent(rnn, x, ...)``, ``manual.run_sequence(...)``."""
    return _Manual


def _randomise(module, scale=0.5):
    """Random values in every parameter (biases, gains, leak rates too), so every term counts."""
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, scale)
    return module


@pytest.fixture(scope="session")
def randomise():
    """``randomise(module)``: every parameter drawn from N(0, 0.5^2), in place; returns module."""
    return _randomise
