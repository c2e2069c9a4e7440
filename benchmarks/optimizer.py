"""``python -m benchmarks.optimizer``: one Adam update, on torch's fused kernel or its loops.

``build_optimizer`` runs Adam on the fused kernel where it fits (``train/optim.py``). Compared
here with torch's two other implementations: the per-tensor loop (its CPU default) and
``foreach`` (one multi-tensor call per operation). The parameters are those of the
transliteration task's ``small`` and ``full`` models, with fixed random gradients; the three are
interleaved in one process (DESIGN.md §3) and the table goes to RESULTS.md, between its own
markers.

Examples::

    python -m benchmarks.optimizer --threads 2
    python -m benchmarks.optimizer --quick        # a smoke run, printed only
"""

from __future__ import annotations

import statistics

import torch

from .measure import _timed
from .report import Experiment, environment
from .translit_models import PRESETS, TINY, preset_model

EXPERIMENT = Experiment("optimizer", __doc__, "a tiny model, printed only")
KERNELS = {
    "per-tensor loop": {"foreach": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
}


def parameters_of(preset: str, overrides: dict) -> list[torch.nn.Parameter]:
    params = list(preset_model(preset, overrides).model.parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    return params


def measure(preset: str, repeats: int, overrides: dict) -> tuple[int, dict[str, float]]:
    """The parameter count and the median seconds of one update per kernel (interleaved)."""
    params = parameters_of(preset, overrides)
    optimizers = {
        name: torch.optim.Adam([p.detach().clone().requires_grad_() for p in params], **options)
        for name, options in KERNELS.items()
    }
    for optimizer in optimizers.values():
        for copy, p in zip(optimizer.param_groups[0]["params"], params, strict=True):
            copy.grad = p.grad.clone()
        optimizer.step()  # warm-up: the moments exist from here on
    samples: dict[str, list[float]] = {name: [] for name in KERNELS}
    names = list(KERNELS)
    for round_ in range(repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            samples[name].append(_timed(optimizers[name].step, 20))
    return sum(p.numel() for p in params), {n: statistics.median(s) for n, s in samples.items()}


def document(times: dict[str, tuple[int, dict[str, float]]], command: str, repeats: int) -> str:
    lines = [
        "## Adam: one update on each of torch's kernels",
        "",
        environment(command),
        f"- the parameters of each preset's model; each sample: 20 updates; median of {repeats}"
        " interleaved samples",
        "",
        "| model | parameters | "
        + " | ".join(f"ms, {name}" for name in KERNELS)
        + " | loop / fused |",
        "|---|---:|" + "---:|" * len(KERNELS) + "---:|",
    ]
    for preset, (count, by_kernel) in times.items():
        cells = " | ".join(f"{by_kernel[name] * 1e3:.2f}" for name in KERNELS)
        speedup = by_kernel["per-tensor loop"] / by_kernel["fused"]
        lines.append(f"| `{preset}` | {count:,} | {cells} | {speedup:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    args = EXPERIMENT.parse(EXPERIMENT.parser(), argv)
    repeats, overrides = args.repeats, {}
    if args.quick:
        repeats = 1
        overrides = TINY
    times = {preset: measure(preset, repeats, overrides) for preset in PRESETS}
    body = document(times, args.command, repeats)
    return EXPERIMENT.publish(body, args.quick)


if __name__ == "__main__":
    main()
