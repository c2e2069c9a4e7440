"""``rnnkit longrange``: train every cell at every length of a long-range task, tabulate, plot.

This is the lecture's claim put to the test: on the same task, budget and model size, an Elman
RNN stays at the chance level once the dependency is long, while LSTM and GRU learn it.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ...diagnostics.table import markdown_table
from .. import get_task
from ..config import resolve_run_config
from ..run import train_task
from .common import LongRangeTask


@dataclasses.dataclass
class SweepResult:
    """The final dev metric of each (cell, length) run, with the task's chance level."""

    task: str
    metric: str
    higher_is_better: bool
    chance: float
    cells: list[str]
    lengths: list[int]
    scores: dict[tuple[str, int], float]
    solved: dict[tuple[str, int], bool]
    seconds: dict[tuple[str, int], float]
    steps: int


def run_sweep(
    task_name: str,
    cells: Sequence[str],
    lengths: Sequence[int],
    *,
    steps: int | None = None,
    seed: int = 0,
    assignments: Sequence[str] = (),
    out_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] = print,
) -> SweepResult:
    """Train ``task_name`` with each cell at each length, one run per pair.

    Each run uses the task's "small" preset with ``cell`` and the task's length field set, plus
    ``assignments`` (``--set`` strings) and ``steps`` (max_steps) if given. Runs are written to
    ``out_dir/<cell>-<length>/`` (a temporary folder, deleted afterwards, when None).
    """
    for name, given in (("cells", cells), ("lengths", lengths)):
        repeated = sorted({v for v in given if list(given).count(v) > 1})
        if repeated:  # a repeat would train into the directory of the first
            raise ValueError(f"run_sweep: {name} {repeated} given more than once")
    if not cells or not lengths:
        raise ValueError(
            f"run_sweep: give at least one cell and one length, got {cells}, {lengths}"
        )
    task = get_task(task_name)
    if not isinstance(task, LongRangeTask):
        raise ValueError(f"task {task.name!r} is not a long-range task (adding, copy, digits)")
    swept = {"cell": "--cells", task.length_key: "--lengths"}
    for text in assignments:
        key = text.partition("=")[0].strip()
        if key in swept:  # it would win over the sweep's own value and mislabel every run
            raise ValueError(f"--set {key}: the sweep sets {key} itself; use {swept[key]}")
    overrides = {"progress": False, "seed": seed}
    if steps is not None:
        overrides["max_steps"] = steps
    with tempfile.TemporaryDirectory(prefix="rnnkit-longrange-") as scratch:
        root = Path(out_dir) if out_dir is not None else Path(scratch)
        scores, solved, seconds = {}, {}, {}
        for length in lengths:
            for cell in cells:
                run = resolve_run_config(
                    task,
                    assignments=[f"cell={cell}", f"{task.length_key}={length}", *assignments],
                    train_overrides=overrides,
                )
                objective = task.objective(run.config, {})
                started = time.perf_counter()
                summary = train_task(run, root / f"{cell}-{length}")
                seconds[cell, length] = time.perf_counter() - started
                scores[cell, length] = summary.metrics[objective.metric]
                solved[cell, length] = task.solved(summary.metrics)
                log(
                    f"{task.name} {cell:>5} {task.length_key}={length:<5} "
                    f"{objective.metric}={scores[cell, length]:.4f}  "
                    f"({'solved' if solved[cell, length] else 'not solved'}, "
                    f"{seconds[cell, length]:.0f} s)"
                )
    return SweepResult(
        task=task.name,
        metric=objective.metric,
        higher_is_better=objective.higher_is_better,
        chance=task.chance(run.config)[objective.metric],
        cells=list(cells),
        lengths=list(lengths),
        scores=scores,
        solved=solved,
        seconds=seconds,
        steps=run.train.max_steps,
    )


def format_table(result: SweepResult) -> str:
    """The results as a Markdown table: one row per length, one column per cell, plus chance.

    A solved run is marked with ``*``."""
    header = [result_length_name(result), *result.cells, "chance"]
    rows = [
        [
            str(length),
            *(
                f"{result.scores[cell, length]:.4f}" + (" *" if result.solved[cell, length] else "")
                for cell in result.cells
            ),
            f"{result.chance:.4f}",
        ]
        for length in result.lengths
    ]
    lines = [markdown_table(header, rows)]
    better = "higher" if result.higher_is_better else "lower"
    lines.append(
        f"\n{result.task}: final dev {result.metric} after {result.steps} steps "
        f"({better} is better; * = solved)"
    )
    return "\n".join(lines)


def result_length_name(result: SweepResult) -> str:
    return get_task(result.task).length_key


def plot_sweep(result: SweepResult, path: str | os.PathLike) -> Path:
    """The metric against the length, one line per cell, with the chance level dashed."""
    from ...diagnostics.plots import plt, save_figure  # matplotlib only when plotting

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for cell in result.cells:
        ax.plot(
            result.lengths,
            [result.scores[cell, length] for length in result.lengths],
            marker="o",
            label=cell,
        )
    ax.axhline(result.chance, color="gray", linestyle="--", label="chance")
    ax.set_xlabel(result_length_name(result))
    ax.set_ylabel(f"dev {result.metric}")
    ax.set_title(f"{result.task}: after {result.steps} training steps")
    if not result.higher_is_better:
        ax.set_yscale("log")
    ax.set_xticks(result.lengths)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
