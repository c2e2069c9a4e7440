"""``python -m benchmarks.dropout``: dropout between layers, torch's kernel against rnnkit's.

``rnnkit.layers.dropout`` draws its mask as uniforms compared with ``p``; on CPU,
``torch.nn.functional.dropout`` draws it through ``bernoulli_``. Both are timed forward and
backward on the tensors the transliteration task's ``full`` model drops out in a training step
(batch 256, words of CMUdict's mean length): the decoder's embeddings, the encoder's output
between its two layers, the decoder's between its two, and the attentional state before the
output layer. Interleaved in one process (DESIGN.md §3); the table goes to RESULTS.md, between
its own markers.

Examples::

    python -m benchmarks.dropout --threads 2
    python -m benchmarks.dropout --quick        # a smoke run, printed only
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from functools import partial

import torch
from torch.nn import functional as F

from rnnkit.layers import dropout

from .measure import _timed
from .report import Experiment, environment
from .translit_models import TINY, preset_config

EXPERIMENT = Experiment("dropout", __doc__, "tiny tensors, printed only")
KERNELS: dict[str, Callable] = {
    "torch F.dropout": lambda x, p: F.dropout(x, p, training=True),
    "rnnkit dropout": dropout,
}
# CMUdict's mean word: 7.5 letters and 6.4 phonemes, the decoder's start marker before them
# (batches of words of similar length, so little padding).
SOURCE_STEPS, TARGET_STEPS = 8, 7


def sites(overrides: dict, batch: int) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor the ``full`` model drops out in one training step."""
    config = preset_config("full", overrides)
    return {
        "decoder embeddings": (batch, TARGET_STEPS, config.embed_dim),
        "encoder, between layers": (batch, SOURCE_STEPS, 2 * config.hidden_size),
        "decoder, between layers": (batch, TARGET_STEPS, config.hidden_size),
        "before the output layer": (batch, TARGET_STEPS, config.hidden_size),
    }


def measure(shapes: dict, p: float, repeats: int) -> dict[str, dict[str, float]]:
    """Median seconds of forward + backward, per site and kernel, interleaved round by round."""
    samples = {site: {name: [] for name in KERNELS} for site in shapes}
    inputs = {site: torch.randn(shape, requires_grad=True) for site, shape in shapes.items()}
    names = list(KERNELS)
    for round_ in range(repeats + 1):  # the first round warms up
        for site, x in inputs.items():
            grad = torch.ones_like(x)
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                seconds = _timed(partial(_forward_backward, KERNELS[name], x, p, grad), 20)
                if round_:
                    samples[site][name].append(seconds)
    return {
        site: {name: statistics.median(s) for name, s in by_kernel.items()}
        for site, by_kernel in samples.items()
    }


def _forward_backward(kernel: Callable, x: torch.Tensor, p: float, grad: torch.Tensor) -> None:
    kernel(x, p).backward(grad)


def document(times: dict, shapes: dict, p: float, command: str, repeats: int) -> str:
    lines = [
        "## Dropout: torch's kernel and rnnkit's, on the `full` model's tensors",
        "",
        environment(command),
        f"- p = {p}; forward and backward; each sample: 20 calls; median of {repeats} interleaved"
        " samples",
        "",
        "| tensor | shape | " + " | ".join(f"ms, {name}" for name in KERNELS) + " | speed-up |",
        "|---|---|" + "---:|" * len(KERNELS) + "---:|",
    ]
    first, second = KERNELS
    for site, by_kernel in [*times.items(), ("one training step", _totals(times))]:
        shape = "x".join(map(str, shapes[site])) if site in shapes else ""
        cells = " | ".join(f"{by_kernel[name] * 1e3:.2f}" for name in KERNELS)
        speedup = by_kernel[first] / by_kernel[second]
        lines.append(f"| {site} | {shape} | {cells} | {speedup:.2f}x |")
    return "\n".join(lines) + "\n"


def _totals(times: dict) -> dict[str, float]:
    return {name: sum(by_kernel[name] for by_kernel in times.values()) for name in KERNELS}


def main(argv: list[str] | None = None) -> str:
    args = EXPERIMENT.parse(EXPERIMENT.parser(), argv)
    p = preset_config("full", {}).dropout
    shapes, repeats = sites({}, batch=256), args.repeats
    if args.quick:
        shapes, repeats = sites(TINY, batch=4), 1
    times = measure(shapes, p, repeats)
    body = document(times, shapes, p, args.command, repeats)
    return EXPERIMENT.publish(body, args.quick)


if __name__ == "__main__":
    main()
