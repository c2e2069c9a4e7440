"""gradient_flow measures dL/dh_t: checked against autograd on a plain loop and a closed form."""

import pytest
import torch

import rnnkit as rk
from rnnkit.diagnostics import gradient_flow


def manual_norms(cell, x, weights, reverse=False):
    """||dL/dh_t|| (and, for an LSTM, ||dL/dc_t|| through the carried memory) by retain_grad on a
    plain loop over ``cell``; L = sum_t <weights_t, h_t>, so gradients arrive at every step."""
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    state = cell.initial_state(x.shape[0], dtype=x.dtype)
    hs, carried, loss = [], [], 0.0
    for t in steps:
        _, state = cell(x[:, t], state)
        if isinstance(state, tuple):
            h, c = state
            c = c.clone()  # the memory handed to the next step: its grad is the carried path only
            state = (h, c)
            c.retain_grad()
            carried.append(c)
        else:
            h = state
        h.retain_grad()
        hs.append(h)
        loss = loss + (weights[:, t] * h).sum()
    loss.backward()
    hidden = torch.tensor([h.grad.norm().item() for h in hs])
    # the last step's memory is never used: no grad, i.e. zero
    memory = torch.tensor([0.0 if c.grad is None else c.grad.norm().item() for c in carried])
    return hidden, (memory if carried else None)


def weighted_loss(weights):
    def loss_fn(model, x):
        out, _ = model(x)
        return (weights * out).sum()

    return loss_fn


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "leaky"])
def test_gradient_flow_equals_autograd_on_a_manual_loop(kind):
    torch.manual_seed(0)
    model = rk.Recurrent(kind, 3, 5).double()
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    weights = torch.randn(4, 7, 5, dtype=torch.float64)

    flow = gradient_flow(model, x, loss_fn=weighted_loss(weights))
    hidden, memory = manual_norms(model.cells[0], x, weights)

    (layer,) = flow.layers
    torch.testing.assert_close(layer.hidden, hidden.to(layer.hidden.dtype), rtol=1e-6, atol=1e-9)
    if kind == "lstm":
        torch.testing.assert_close(layer.cell, memory.to(layer.cell.dtype), rtol=1e-6, atol=1e-9)
    else:
        assert layer.cell is None


def test_backward_direction_is_reported_in_processing_order():
    torch.manual_seed(1)
    model = rk.Recurrent("gru", 2, 3, bidirectional=True, merge="sum").double()
    x = torch.randn(2, 6, 2, dtype=torch.float64)
    weights = torch.randn(2, 6, 3, dtype=torch.float64)

    flow = gradient_flow(model, x, loss_fn=weighted_loss(weights))
    backward, _ = manual_norms(model.cells[1], x, weights, reverse=True)

    assert [layer.name for layer in flow.layers] == ["layer 0", "layer 0, backward"]
    torch.testing.assert_close(
        flow["layer 0, backward"].hidden, backward.float(), rtol=1e-5, atol=0
    )


def test_linear_regime_decays_by_the_spectral_radius_per_step():
    # Zero input and state keep tanh in its linear regime (tanh'(0) = 1), so the recurrent
    # Jacobian is W_hh = 0.5 I and the gradient shrinks exactly by 0.5 per step back.
    model = rk.Recurrent("rnn", 2, 4)
    with torch.no_grad():
        model.cells[0].weight_ih.zero_()
        model.cells[0].weight_hh.copy_(0.5 * torch.eye(4))
    flow = gradient_flow(model, torch.zeros(3, 10, 2))
    (layer,) = flow.layers
    expected = (3 * 4) ** 0.5 * 0.5 ** torch.arange(10.0)  # ||ones(3, 4)|| at distance 0
    torch.testing.assert_close(layer.by_distance(), expected)
    assert layer.spectral_radius == {"hh": pytest.approx(0.5)}


def test_every_layer_is_measured_and_parameter_grads_are_untouched():
    model = rk.Recurrent("lstm", 3, 4, num_layers=2)
    flow = gradient_flow(model, torch.randn(2, 5, 3))
    assert [layer.name for layer in flow.layers] == ["layer 0", "layer 1"]
    assert all(layer.hidden.shape == (5,) and layer.cell.shape == (5,) for layer in flow.layers)
    assert set(flow.layers[0].spectral_radius) == {"i", "f", "g", "o"}
    assert all(p.grad is None for p in model.parameters())


def seq2seq_flow(**options):
    torch.manual_seed(0)
    model = rk.Seq2Seq(10, 8, 6, 5, bidirectional=True, num_layers=2, **options).double()
    src, lengths = torch.randint(4, 10, (3, 5)), torch.tensor([5, 3, 4])
    tgt_in = torch.randint(4, 8, (3, 6))
    tgt_in[:, 0] = model.bos_id
    return gradient_flow(model, (src, lengths, tgt_in), lambda m, batch: m(*batch).sum())


def test_a_decoder_stepped_one_token_at_a_time_is_measured_as_the_engine_measures_it(
    monkeypatch,
):
    # Luong attention without input feeding runs each decoder layer on the engine; forced to step
    # token by token (as input feeding and Bahdanau attention must), it gives the same flow.
    on_the_engine = seq2seq_flow(attention="luong", input_feeding=False)
    monkeypatch.setattr(rk.patterns.decoder.RecurrentDecoder, "all_steps_at_once", False)
    stepped = seq2seq_flow(attention="luong", input_feeding=False)
    names = [layer.name for layer in stepped.layers]
    assert names == [layer.name for layer in on_the_engine.layers]
    assert names[-2:] == ["decoder.cells.0", "decoder.cells.1"]
    for ours, engine in zip(stepped.layers, on_the_engine.layers, strict=True):
        torch.testing.assert_close(ours.hidden, engine.hidden)
        torch.testing.assert_close(ours.cell, engine.cell)


@pytest.mark.parametrize("options", [{"attention": "luong"}, {"attention": "bahdanau"}])
def test_decoders_that_must_step_are_measured(options):
    flow = seq2seq_flow(**options)  # Luong's input feeding is on by default
    assert [layer.name for layer in flow.layers][-2:] == ["decoder.cells.0", "decoder.cells.1"]
    assert flow["decoder.cells.1"].hidden.shape == (6,)


def test_the_default_loss_reads_the_last_step_of_a_time_major_layer():
    torch.manual_seed(0)
    batch_first = rk.Recurrent("gru", 3, 4)
    time_major = rk.Recurrent("gru", 3, 4, batch_first=False)
    time_major.load_state_dict(batch_first.state_dict())
    x = torch.randn(2, 6, 3)
    expected = gradient_flow(batch_first, x).layers[0].hidden
    torch.testing.assert_close(
        gradient_flow(time_major, x.transpose(0, 1)).layers[0].hidden, expected
    )


def test_a_model_without_recurrent_cells_is_an_error():
    with pytest.raises(ValueError, match="no rnnkit recurrent cell"):
        gradient_flow(torch.nn.Linear(3, 3), torch.randn(2, 3), loss_fn=lambda m, x: m(x).sum())


def test_flow_table_lines_up_flows_of_different_lengths():
    """Trained models of different tasks have different lengths: one table, "-" past a flow's
    end (`rnnkit gradflow --model` of an adding run next to a digits run)."""
    from rnnkit.diagnostics.compare import compare_cells, flow_table

    flows = {**compare_cells(["rnn"], 3), **compare_cells(["lstm"], 12)}
    rows = {
        line.split("|")[1].strip(): line.split("|")[2:4] for line in flow_table(flows).splitlines()
    }
    assert [cell.strip() for cell in rows["11"]] == [
        "-",
        f"{flows['lstm'].layers[0].by_distance()[11]:.3e}",
    ]
    assert rows["2"][0].strip() == f"{flows['rnn'].layers[0].by_distance()[2]:.3e}"
