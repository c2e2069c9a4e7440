"""draw_unrolled and plot_gradient_flow write valid, non-empty PNG and SVG files."""

import re
import warnings
import xml.etree.ElementTree as ET

import matplotlib.image
import pytest
import torch

import rnnkit as rk
from rnnkit.diagnostics import draw_unrolled, gradient_flow, plot_attention, plot_gradient_flow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_steps_of_two_digits_are_subscripted_whole(tmp_path, monkeypatch):
    from rnnkit.diagnostics import unrolled

    labels = []
    monkeypatch.setattr(unrolled, "_box", lambda ax, centre, text, kind: labels.append(text))
    draw_unrolled(rk.LSTMCell(2, 3), steps=12, path=tmp_path / "unrolled.svg")
    assert {"$x_{10}$", "$h_{11}$", "$c_{12}$", "$y_{12}$"} <= set(labels)


@pytest.mark.parametrize("cell", [rk.RNNCell(2, 3), rk.LSTMCell(2, 3), rk.GRUCell(2, 3)])
def test_draw_unrolled_png(tmp_path, cell):
    path = draw_unrolled(cell, steps=3, path=tmp_path / "unrolled.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 200
    assert image.std() > 0  # something was drawn


def box_labels(svg_text: str) -> set[str]:
    """The subscripted symbols drawn, e.g. {"h0", "x1"} (SVG text is kept as text)."""
    pairs = re.findall(r">([a-z])</tspan>\s*<tspan[^>]*>(\d)</tspan>", svg_text)
    return {symbol + step for symbol, step in pairs}


def test_draw_unrolled_svg_shows_both_states_of_an_lstm_and_one_of_an_rnn(tmp_path):
    lstm = draw_unrolled(rk.LSTM(2, 3), steps=2, path=tmp_path / "lstm.svg")
    rnn = draw_unrolled(rk.RNNCell(2, 3), steps=2, path=tmp_path / "rnn.svg")
    assert ET.parse(lstm).getroot().tag.endswith("svg")
    common = {"h0", "h1", "h2", "x1", "x2", "y1", "y2"}
    assert box_labels(lstm.read_text()) == common | {"c0", "c1", "c2"}
    assert box_labels(rnn.read_text()) == common


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        draw_unrolled(rk.RNNCell(2, 3), path=tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="steps"):
        draw_unrolled(rk.RNNCell(2, 3), steps=0, path=tmp_path / "x.png")
    with pytest.raises(TypeError, match="expected an rnnkit cell"):
        draw_unrolled(torch.nn.Linear(2, 2), path=tmp_path / "x.png")


def test_plot_gradient_flow(tmp_path):
    flows = {k: gradient_flow(rk.Recurrent(k, 2, 3), torch.randn(2, 8, 2)) for k in ("rnn", "lstm")}
    path = plot_gradient_flow(flows, tmp_path / "sub" / "flow.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    svg = plot_gradient_flow(flows["rnn"], tmp_path / "flow.svg")
    assert ET.parse(svg).getroot().tag.endswith("svg")


def test_plot_attention(tmp_path):
    weights = torch.softmax(torch.randn(4, 5), dim=-1)
    panels = [(list("cats"), ["K", "AE", "T", "S"], weights)] * 2
    assert plot_attention(panels, tmp_path / "att.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="do not cover 4 outputs x 6 source tokens"):
        plot_attention([(list("catsup"), ["K", "AE", "T", "S"], weights)], tmp_path / "a.png")
    with pytest.raises(ValueError, match="no panels"):
        plot_attention([], tmp_path / "a.png")


def test_plot_attention_titles_its_panels_and_grows_with_long_words(tmp_path):
    long = list("pseudopseudohypoparathyroidism")
    panels = [(long, ["S"] * 24, torch.rand(24, 30)), (list("cat"), ["K"], torch.ones(1, 3))]
    path = plot_attention(panels, tmp_path / "t.svg", columns=2, titles=["free", "window"])
    svg = path.read_text()
    assert ">free</text>" in svg and ">window</text>" in svg
    width = float(re.search(r'<svg[^>]* width="([0-9.]+)pt"', svg).group(1))
    assert width > 2 * 3.2 * 72 * 1.4  # 30 letters need wider panels than the 3.2-inch default
    with pytest.raises(ValueError, match="1 titles for 2 panels"):
        plot_attention(panels, tmp_path / "t.png", titles=["one"])


def test_plot_attention_of_an_empty_output_draws_a_note(tmp_path):
    """An untrained model may write nothing: the panel says so (no empty-image warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = plot_attention([(list("cats"), [], torch.zeros(0, 4))], tmp_path / "e.svg")
    assert "(no output)" in figure.read_text()
