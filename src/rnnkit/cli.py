"""The ``rnnkit`` command: train, evaluate and query the tasks; measure gradient flow.

    rnnkit tasks
    rnnkit train adding --set length=200 --max-steps 2000 --out runs/adding
    rnnkit eval adding --model runs/adding
    rnnkit eval translit --model runs/translit-a --model runs/translit-b   # an ensemble
    rnnkit predict adding --model runs/adding "0.3 0.9* 0.1 0.5*"
    rnnkit average runs/translit --last 3 --out runs/translit-avg3
    rnnkit gradflow --cells rnn,lstm,gru --length 100 --out gradflow.png
    rnnkit longrange --task adding --cells rnn,lstm,gru --lengths 50,100,200
    rnnkit draw lstm --steps 3 --out lstm.png

A user error (bad argument, bad config, missing model) prints one line to stderr and exits
with status 2; ``--traceback`` shows the full traceback instead. Heavy modules are imported
inside the commands, so ``--help`` answers quickly.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .cells import CELL_KINDS

USER_ERROR = 2
DEFAULT_LENGTHS = {"digits": (8, 64)}  # longrange: digits has two natural lengths, rows and pixels


class UserError(Exception):
    """A mistake of the user's, reported in one line without a traceback."""


class Parser(argparse.ArgumentParser):
    """argparse, with errors on one line (``rnnkit train: error: ...``) and status 2."""

    def error(self, message: str):
        raise UserError(f"{message} (see `{self.prog} --help`)")


# -- commands -------------------------------------------------------------------------------------
def cmd_tasks(args) -> None:
    from .tasks import describe_tasks

    for name, aliases, description in describe_tasks():
        also = f" (also: {', '.join(aliases)})" if aliases else ""
        print(f"{name:<10} {description}{also}")


def cmd_train(args) -> None:
    from .tasks import get_task
    from .tasks.config import resolve_run_config
    from .tasks.run import load_trained, train_task

    task = get_task(args.task)
    overrides = {"max_steps": args.max_steps, "seed": args.seed, "device": args.device}
    run = resolve_run_config(
        task,
        preset=args.preset,
        file=args.config,
        assignments=args.set,
        train_overrides={k: v for k, v in overrides.items() if v is not None},
    )
    out = args.out or f"runs/{task.name}"
    summary = train_task(run, out, resume=args.resume, nproc=args.nproc)
    print(f"trained {task.name} for {summary.steps} steps in {summary.elapsed_s:.1f} s -> {out}")
    _print_metrics(summary.metrics, task.chance(run.config), "dev")
    if summary.best_checkpoint:
        print(f"best checkpoint: {summary.best_checkpoint}")
    lines = task.report(load_trained(task, out, device=args.device or "cpu"), out)
    if lines:
        print()
        print("\n".join(lines))


def cmd_eval(args) -> None:
    from .tasks import get_task
    from .tasks.run import evaluate_trained, load_ensemble, with_decoding

    task = get_task(args.task)
    trained = with_decoding(load_ensemble(task, args.model, device=args.device), args.set)
    metrics = evaluate_trained(trained, args.split)
    if trained.members:
        print(f"{task.name}: ensemble of {' + '.join(str(p) for p in trained.members)}")
    else:
        print(f"{task.name}: {trained.checkpoint}")
    _print_metrics(metrics, task.chance(trained.config), args.split)
    if args.report:
        Path(args.report).mkdir(parents=True, exist_ok=True)
        lines = task.report(trained, args.report)
        for line in lines or [f"(task {task.name} has no report beyond its metrics)"]:
            print(line)


def cmd_predict(args) -> None:
    from .tasks import get_task
    from .tasks.run import load_ensemble, with_decoding

    task = get_task(args.task)
    trained = with_decoding(load_ensemble(task, args.model, device=args.device), args.set)
    given = args.inputs or sys.stdin.read().splitlines()
    inputs = [line for line in given if line.strip()]
    if not inputs:
        raise UserError("no input: give inputs as arguments or on stdin")
    for line in task.predict(trained.model, trained.config, trained.metadata, inputs):
        print(line)


def cmd_average(args) -> None:
    from .train import average_checkpoints, periodic_checkpoints, read_checkpoint

    sources = []
    for given in args.checkpoints:
        path = Path(given)
        if args.last is None:
            if not (path / "checkpoint.json").is_file():
                raise UserError(
                    f"{path} is a run directory: add --last N to average its N newest "
                    "checkpoints, or name checkpoint directories"
                    if periodic_checkpoints(path)
                    else f"{path} is not a checkpoint directory (it has no checkpoint.json)"
                )
            sources.append(path)
            continue
        found = periodic_checkpoints(path)
        if len(found) < args.last:
            raise UserError(
                f"{path} holds {len(found)} periodic checkpoints (under {path}/checkpoints), "
                f"fewer than --last {args.last}"
            )
        sources += found[-args.last :]
    out = average_checkpoints(sources, args.out, allow_different_seeds=args.allow_different_seeds)
    print(f"averaged {len(sources)} checkpoints -> {out}")
    for source in sources:
        print(f"  {source}")
    task = (read_checkpoint(out).get("config") or {}).get("task", "TASK")
    print(f"next: rnnkit eval {task} --model {out} --split dev")


def cmd_gradflow(args) -> None:
    from .diagnostics.compare import compare_cells, flow_table
    from .diagnostics.plots import check_figure_path, plot_gradient_flow

    if args.out:
        check_figure_path(args.out)
    if args.model:
        from .tasks.run import load_any, run_directory, trained_gradient_flow

        labels = [run_directory(Path(path).resolve()).name for path in args.model]
        if len(set(labels)) < len(labels):  # e.g. runs/a/best and runs/a: show the paths
            labels = list(args.model)
        flows = {
            label: trained_gradient_flow(load_any(path), args.batch_size)
            for label, path in zip(labels, args.model, strict=True)
        }
        print("||dL/dh_(T-k)|| of trained models, under their task's loss on dev examples")
    else:
        flows = compare_cells(
            args.cells,
            args.length,
            hidden_size=args.hidden_size,
            batch_size=args.batch_size,
            seed=args.seed,
        )
        print(f"||dL/dh_(T-k)|| at initialisation, T={args.length}, loss = sum of the last output")
    print(flow_table(flows))
    if args.out:
        print(f"plot: {plot_gradient_flow(flows, args.out)}")


def cmd_longrange(args) -> None:
    from .tasks import get_task
    from .tasks.longrange.sweep import format_table, plot_sweep, run_sweep

    if args.plot:
        from .diagnostics.plots import check_figure_path

        check_figure_path(args.plot)
    import torch

    # The models are small (64 units): a second thread costs more in synchronisation than it
    # saves, and on a busy machine an oversubscribed thread pool is 10-100x slower.
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    lengths = args.lengths or DEFAULT_LENGTHS.get(task.name, (50, 100, 200))
    try:
        result = run_sweep(
            task.name,
            args.cells,
            lengths,
            steps=args.steps,
            seed=args.seed,
            assignments=args.set,
            out_dir=args.out,
            log=lambda line: print(line, flush=True),
        )
    except FileExistsError:
        raise UserError(
            f"{args.out} already holds runs of a sweep: choose a new --out DIR"
        ) from None
    finally:  # main() may run in-process (tests, notebooks): leave torch as we found it
        torch.set_num_threads(previous_threads)
    table = format_table(result)
    print(table)
    plot = args.plot or (f"{args.out}/longrange.png" if args.out else f"longrange-{task.name}.png")
    print(f"plot: {plot_sweep(result, plot)}")
    if args.out:
        with open(f"{args.out}/longrange.md", "w") as handle:
            handle.write(table + "\n")


def cmd_draw(args) -> None:
    from .cells import make_cell
    from .diagnostics import draw_unrolled

    print(draw_unrolled(make_cell(args.cell, 1, 1), args.steps, args.out))


# -- argument types -------------------------------------------------------------------------------
def cell_list(text: str) -> list[str]:
    cells = [c.strip().lower() for c in text.split(",") if c.strip()]
    unknown = [c for c in cells if c not in CELL_KINDS]
    if unknown or not cells:
        raise argparse.ArgumentTypeError(
            f"unknown cell(s) {unknown or text!r}; cells: {','.join(CELL_KINDS)}"
        )
    return cells


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "an integer >= 0")


def int_list(text: str) -> list[int]:
    return [positive_int(part.strip()) for part in text.split(",") if part.strip()]


def _int_at_least(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


# -- the parser -----------------------------------------------------------------------------------
def build_parser() -> Parser:
    parser = Parser(prog="rnnkit", description="Recurrent neural networks on PyTorch.")
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    def command(name: str, handler, help: str) -> Parser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    command("tasks", cmd_tasks, "list the tasks")

    train = command("train", cmd_train, "train a task's model")
    train.add_argument("task", help="task name or alias (see `rnnkit tasks`)")
    train.add_argument("--preset", help="named config of the task to start from (default: small)")
    train.add_argument("--config", metavar="FILE", help="TOML config file (task keys, [train])")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. hidden_size=128 or train.lr=0.01",
    )
    train.add_argument("--out", metavar="DIR", help="run directory (default: runs/TASK)")
    train.add_argument("--max-steps", type=positive_int, metavar="N", help="training steps")
    train.add_argument("--seed", type=non_negative_int, metavar="S", help="seed of the run")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument(
        "--nproc",
        type=positive_int,
        default=1,
        metavar="N",
        help="data-parallel processes (default 1)",
    )
    train.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cpu)")

    for name, handler, help in (
        ("eval", cmd_eval, "evaluate a trained model"),
        ("predict", cmd_predict, "run a trained model on inputs (arguments or stdin lines)"),
    ):
        sub = command(name, handler, help)
        sub.add_argument("task", help="task name or alias")
        sub.add_argument(
            "--model",
            action="append",
            required=True,
            metavar="DIR",
            help="run directory or checkpoint directory; repeat it to decode several runs of "
            "a sequence task as one ensemble",
        )
        sub.add_argument("--device", default="cpu", help="device to run on (default cpu)")
        sub.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a decoding setting of the task, e.g. beam_size=1 (translit: beam_size, "
            "nbest, max_len, attention_window)",
        )
        if name == "eval":
            sub.add_argument("--split", choices=("test", "dev", "train"), default="test")
            sub.add_argument(
                "--report", metavar="DIR", help="also write the task's report (plots, examples)"
            )
        else:
            sub.add_argument("inputs", nargs="*", metavar="INPUT", help="input lines")

    average = command(
        "average",
        cmd_average,
        "average the weights of several checkpoints of one model into a new checkpoint",
    )
    average.add_argument(
        "checkpoints",
        nargs="+",
        metavar="DIR",
        help="checkpoint directories, or run directories with --last",
    )
    average.add_argument(
        "--last",
        type=positive_int,
        metavar="N",
        help="average the N newest periodic checkpoints of each run directory given",
    )
    average.add_argument("--out", required=True, metavar="DIR", help="new checkpoint directory")
    average.add_argument(
        "--allow-different-seeds",
        action="store_true",
        help="average runs of different seeds (only sound when they share their initial "
        "weights, e.g. fine-tunings of one checkpoint)",
    )

    gradflow = command(
        "gradflow",
        cmd_gradflow,
        "measure ||dL/dh_t|| through time for fresh layers of several cells",
    )
    gradflow.add_argument(
        "--cells",
        type=cell_list,
        default=["rnn", "lstm", "gru"],
        help="comma-separated cells (default rnn,lstm,gru)",
    )
    gradflow.add_argument("--length", type=positive_int, default=100, metavar="T")
    gradflow.add_argument("--hidden-size", type=positive_int, default=64, metavar="H")
    gradflow.add_argument("--batch-size", type=positive_int, default=16, metavar="B")
    gradflow.add_argument("--seed", type=non_negative_int, default=0)
    gradflow.add_argument("--out", metavar="FILE", help="plot to this .png or .svg file")
    gradflow.add_argument(
        "--model",
        nargs="+",
        metavar="DIR",
        help="measure trained models (run directories of `rnnkit train`/`longrange --out`) "
        "instead of fresh layers",
    )

    longrange = command(
        "longrange",
        cmd_longrange,
        "train each cell at each length of a long-range task and compare",
    )
    longrange.add_argument("--task", choices=("adding", "copy", "digits"), default="adding")
    longrange.add_argument("--cells", type=cell_list, default=["rnn", "lstm", "gru"])
    longrange.add_argument(
        "--lengths",
        type=int_list,
        metavar="L1,L2,...",
        help="sequence lengths (adding: T, copy: delay, digits: steps per "
        "image, 8 or 64; default 50,100,200, digits 8,64)",
    )
    longrange.add_argument(
        "--steps",
        type=positive_int,
        metavar="N",
        help="training steps per run (default: the task's small preset)",
    )
    longrange.add_argument("--seed", type=non_negative_int, default=0)
    longrange.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key of every run",
    )
    longrange.add_argument("--out", metavar="DIR", help="keep the runs, table and plot here")
    longrange.add_argument(
        "--threads", type=positive_int, default=1, help="torch threads (default 1: small models)"
    )
    longrange.add_argument("--plot", metavar="FILE", help="plot file (.png or .svg)")

    draw = command("draw", cmd_draw, "draw a cell unrolled through time (PNG or SVG)")
    draw.add_argument("cell", choices=sorted(CELL_KINDS))
    draw.add_argument("--steps", type=positive_int, default=3)
    draw.add_argument("--out", default="unrolled.png", metavar="FILE")
    return parser


def _predict_inputs(inputs: list[str], extra: list[str]) -> tuple[list[str], list[str]]:
    """``predict``'s inputs, and the arguments left unrecognised.

    argparse hands all positionals to the first group it meets ("predict TASK"), so the inputs
    after ``--model DIR`` come back as extras: they are ours when they are not options, and so is
    everything after ``--`` (the usual way to give an input that starts with a dash)."""
    head, dash, tail = extra, [], []
    if "--" in extra:
        cut = extra.index("--")
        head, dash, tail = extra[:cut], ["--"], extra[cut + 1 :]
    if any(e.startswith("-") for e in head):
        return inputs, [*head, *dash, *tail]
    return [*inputs, *head, *tail], []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command == "predict":
            args.inputs, extra = _predict_inputs(args.inputs, extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except UserError as err:
        print(f"rnnkit: error: {err}", file=sys.stderr)
        return USER_ERROR
    try:
        args.handler(args)
    # OSError: a path that is a file, a directory, unwritable... (its message names the path);
    # FloatingPointError: training diverged (the message says what to change).
    except (UserError, ValueError, TypeError, OSError, FloatingPointError) as err:
        if args.traceback:
            raise
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"rnnkit {args.command}: error: {message}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt as interrupted:
        print(_interruption(interrupted, args.command, argv), file=sys.stderr)
        return 130
    return 0


def _interruption(interrupted: KeyboardInterrupt, command: str, argv: list[str]) -> str:
    """What to tell someone who pressed Ctrl-C: where training stopped and how to go on."""
    from .train import TrainingInterrupted

    if not isinstance(interrupted, TrainingInterrupted):
        return "rnnkit: interrupted"
    stopped = f"rnnkit {command}: stopped after step {interrupted.step}, saved in "
    stopped += str(interrupted.checkpoint)
    if command != "train":  # only `train` has --resume (a sweep such as longrange does not)
        return stopped
    again = argv if "--resume" in argv else [*argv, "--resume"]
    return f"{stopped}; continue with: {shlex.join(['rnnkit', *again])}"


def _print_metrics(metrics: dict[str, float], chance: dict[str, float], split: str) -> None:
    for key, value in metrics.items():
        baseline = f"   (chance {chance[key]:.4f})" if key in chance else ""
        print(f"  {split} {key}: {value:.4f}{baseline}")


if __name__ == "__main__":
    sys.exit(main())
