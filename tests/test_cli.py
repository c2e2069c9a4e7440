"""The `rnnkit` command: every command runs, every mistake is one line on stderr and status 2."""

import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys

import pytest

from rnnkit.cli import main

TINY_SIZES = ["--set", "hidden_size=4", "--set", "train_size=64", "--set", "eval_size=16"]
TINY = ["--set", "length=6", *TINY_SIZES]


def run_ok(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def run_fails(capsys, *argv):
    """Run argv expecting a user error; return its one-line message."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


def tiny_sweep(out, *argv):
    """``rnnkit longrange`` arguments for a 2-step sweep of tiny models, written to ``out``."""
    return ["longrange", *argv, "--steps", "2", *TINY_SIZES, "--out", str(out)]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["tasks"],
        ["train"],
        ["eval"],
        ["predict"],
        ["average"],
        ["gradflow"],
        ["longrange"],
        ["draw"],
    ],
)
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: rnnkit")


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_help_names_every_decoding_setting(capsys, command):
    # The help is written out by hand (importing the tasks would slow `--help` down), so it is
    # checked here against what the task really accepts.
    from rnnkit.tasks import get_task

    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"translit: {', '.join(get_task('translit').decoding_fields)})" in help_text


def test_tasks(capsys):
    out = run_ok(capsys, "tasks")
    names = [line.split()[0] for line in out.splitlines()]
    assert names == sorted(names) and {"adding", "copy", "digits"} <= set(names)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "adding"
    assert (
        main(["train", "adding", *TINY, "--max-steps", "3", "--seed", "1", "--out", str(out)]) == 0
    )
    return out


def test_train_writes_a_run(trained):
    assert (trained / "best" / "model.safetensors").is_file()
    run = json.loads((trained / "run.json").read_text())
    assert run["config"]["hidden_size"] == 4 and run["train"]["max_steps"] == 3
    assert run["train"]["seed"] == 1


def test_eval_prints_metrics_beside_chance(capsys, trained):
    out = run_ok(capsys, "eval", "adding", "--model", str(trained))
    assert "test mse:" in out and "(chance 0.1667)" in out
    out = run_ok(
        capsys, "eval", "adding-problem", "--model", str(trained / "best"), "--split", "dev"
    )
    assert "dev mse:" in out


def test_eval_report_calls_the_task(capsys, monkeypatch, trained, tmp_path):
    from rnnkit.tasks.longrange.adding import AddingTask

    seen = []

    def report(self, model, out):
        seen.append((model.config, out))
        return ["a report"]

    out = run_ok(capsys, "eval", "adding", "--model", str(trained), "--report", str(tmp_path / "r"))
    assert out.splitlines()[-1] == "(task adding has no report beyond its metrics)"
    monkeypatch.setattr(AddingTask, "report", report)
    out = run_ok(capsys, "eval", "adding", "--model", str(trained), "--report", str(tmp_path / "r"))
    assert out.splitlines()[-1] == "a report"
    assert seen[0][0].hidden_size == 4 and (tmp_path / "r").is_dir()


def test_predict_from_arguments_and_stdin(capsys, monkeypatch, trained):
    out = run_ok(
        capsys, "predict", "adding", "--model", str(trained), "0.5* 0.1 0.2 0.25*", "1* 1*"
    )
    lines = out.splitlines()
    assert len(lines) == 2 and "true 0.7500" in lines[0] and "true 2.0000" in lines[1]
    monkeypatch.setattr(sys, "stdin", io.StringIO("0.1* 0.2*\n\n0.3* 0.3 0.3*\n"))
    out = run_ok(capsys, "predict", "adding", "--model", str(trained))
    assert len(out.splitlines()) == 2


def test_predict_takes_everything_after_a_double_dash_as_inputs(capsys, trained):
    model = ["--model", str(trained)]
    out = run_ok(capsys, "predict", "adding", *model, "0.5* 0.25*", "--", "-0.5* 1*")
    lines = out.splitlines()
    assert len(lines) == 2 and "true 0.7500" in lines[0] and "true 0.5000" in lines[1]
    out = run_ok(capsys, "predict", "adding", *model, "--", "-0.5* 1*")
    assert "true 0.5000" in out
    err = run_fails(capsys, "predict", "adding", *model, "--colour", "--", "1* 1*")
    assert "unrecognized arguments: --colour -- 1* 1*" in err


def test_resume(capsys, trained, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(trained, run)
    err = run_fails(capsys, "train", "adding", *TINY, "--max-steps", "3", "--out", str(run))
    assert "add --resume" in err
    run_ok(capsys, "train", "adding", *TINY, "--max-steps", "5", "--out", str(run), "--resume")
    assert json.loads((run / "summary.json").read_text())["steps"] == 5


def test_a_run_directory_is_never_overwritten_nor_mixed_with_another_run(capsys, trained, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(trained, run)
    before = (run / "run.json").read_text()
    refusals = {
        "add --resume": ["adding", *TINY, "--set", "cell=gru"],
        "trained with hidden_size=4": ["adding", *TINY, "--set", "hidden_size=8", "--resume"],
        "holds a run of task 'adding', not 'copy'": ["copy", "--resume"],
    }
    for message, argv in refusals.items():
        assert message in run_fails(capsys, "train", *argv, "--max-steps", "5", "--out", str(run))
        assert (run / "run.json").read_text() == before  # a refused run writes nothing
    # A model kept without its checkpoints: nothing to resume, and a new run would replace it.
    shutil.rmtree(run / "checkpoints")
    model = (run / "best" / "model.safetensors").read_bytes()
    for resume in ([], ["--resume"]):
        err = run_fails(capsys, "train", "adding", *TINY, "--out", str(run), *resume)
        assert "holds a trained model (best/) but no checkpoint to resume from" in err
    assert (run / "best" / "model.safetensors").read_bytes() == model


def test_paths_devices_and_divergence_are_one_line_errors(capsys, tmp_path):
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    train = ["train", "adding", *TINY, "--max-steps", "3"]
    assert "is a file, not a run directory" in run_fails(capsys, *train, "--out", str(a_file))
    assert "Not a directory" in run_fails(capsys, *train, "--out", str(a_file / "sub"))
    assert "'foo' is not a device" in run_fails(capsys, *train, "--device", "foo")
    assert "is a file; expected a run or checkpoint directory" in run_fails(
        capsys, "eval", "adding", "--model", str(a_file)
    )
    diverging = ["--set", "train.lr=1e30", "--set", "train.clip_norm=none"]
    err = run_fails(capsys, *train, *diverging, "--set", "train.optimizer=sgd",
                    "--max-steps", "30", "--out", str(tmp_path / "run"))  # fmt: skip
    assert "Training diverged" in err


def test_a_sweep_refuses_to_set_what_it_sweeps_or_to_repeat_it(capsys, tmp_path):
    err = run_fails(capsys, *tiny_sweep(tmp_path / "s", "--cells", "rnn"), "--set", "cell=gru")
    assert "the sweep sets cell itself; use --cells" in err
    err = run_fails(capsys, *tiny_sweep(tmp_path / "s", "--cells", "rnn,gru,rnn"))
    assert "cells ['rnn'] given more than once" in err
    assert not (tmp_path / "s").exists()  # refused before anything was trained


@pytest.fixture
def ctrl_c_in_third_step(monkeypatch):
    """Every run gets a Ctrl-C during its third step; undo() restores plain steps."""
    from rnnkit.train.trainer import Trainer

    real_step = Trainer._train_step

    def step_then_ctrl_c(self):
        if self.state.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(self)

    monkeypatch.setattr(Trainer, "_train_step", step_then_ctrl_c)
    return monkeypatch


def test_ctrl_c_saves_the_step_and_prints_the_command_that_continues(
    capsys, ctrl_c_in_third_step, tmp_path
):
    argv = ["train", "adding", *TINY, "--max-steps", "6", "--out", str(tmp_path / "run")]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"rnnkit train: stopped after step 3, saved in {tmp_path / 'run/checkpoints/step-00000003'}"
        f"; continue with: {shlex.join(['rnnkit', *argv, '--resume'])}"
    )
    ctrl_c_in_third_step.undo()
    run_ok(capsys, *argv, "--resume")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 6


def test_ctrl_c_in_a_sweep_offers_no_resume_it_lacks(capsys, ctrl_c_in_third_step, tmp_path):
    sweep = ["--task", "adding", "--cells", "rnn", "--lengths", "4", "--steps", "4"]
    assert main(["longrange", *sweep, *TINY_SIZES, "--out", str(tmp_path)]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        f"rnnkit longrange: stopped after step 3, saved in "
        f"{tmp_path / 'rnn-4/checkpoints/step-00000003'}"
    )


def test_average_the_last_checkpoints_of_a_run(capsys, tmp_path):
    run = tmp_path / "run"
    every_step = ["--set", "train.checkpoint_every=1", "--max-steps", "3"]
    run_ok(capsys, "train", "adding", *TINY, *every_step, "--out", str(run))
    out = run_ok(capsys, "average", str(run), "--last", "2", "--out", str(tmp_path / "avg"))
    assert "averaged 2 checkpoints" in out and "step-00000002" in out and "step-00000003" in out
    assert (
        out.splitlines()[-1] == f"next: rnnkit eval adding --model {tmp_path / 'avg'} --split dev"
    )
    assert "test mse:" in run_ok(capsys, "eval", "adding", "--model", str(tmp_path / "avg"))
    err = run_fails(capsys, "average", str(run), "--out", str(tmp_path / "x"))
    assert "is a run directory: add --last N" in err
    err = run_fails(capsys, "average", str(run / "checkpoints"), "--out", str(tmp_path / "x"))
    assert "is not a checkpoint directory (it has no checkpoint.json)" in err
    err = run_fails(capsys, "average", str(run), "--last", "4", "--out", str(tmp_path / "x"))
    assert "holds 3 periodic checkpoints" in err and "fewer than --last 4" in err
    err = run_fails(capsys, "average", str(run), "--last", "2", "--out", str(tmp_path / "avg"))
    assert "already exists" in err


def test_gradflow_prints_a_table_and_plots(capsys, tmp_path):
    plot = tmp_path / "flow.png"
    out = run_ok(
        capsys,
        "gradflow",
        "--cells",
        "rnn,lstm",
        "--length",
        "12",
        "--hidden-size",
        "4",
        "--out",
        str(plot),
    )
    assert "| distance k" in out and "| 11 " in out and "spectral radius" in out
    assert plot.stat().st_size > 0


def test_gradflow_of_trained_models(capsys, trained):
    out = run_ok(capsys, "gradflow", "--model", str(trained))
    assert "trained models" in out and "| adding " in out  # labelled by the run's name
    assert "| 5 " in out  # length=6: distances up to 5
    out = run_ok(capsys, "gradflow", "--model", str(trained), str(trained / "best"))
    header = out.splitlines()[1]
    assert str(trained / "best") in header  # same run name twice: the paths tell them apart


def test_longrange_trains_every_cell_at_every_length(capsys, tmp_path):
    argv = tiny_sweep(tmp_path, "--task", "adding", "--cells", "rnn,gru", "--lengths", "4,6")
    out = run_ok(capsys, *argv)
    assert "| length | rnn" in out and "| 6 " in out and "chance" in out
    assert (tmp_path / "longrange.png").stat().st_size > 0
    assert (tmp_path / "gru-6" / "best").is_dir()
    assert "| 4 " in (tmp_path / "longrange.md").read_text()
    again = run_fails(capsys, *tiny_sweep(tmp_path, "--cells", "rnn", "--lengths", "4"))
    assert "already holds runs of a sweep: choose a new --out" in again


def test_draw(capsys, tmp_path):
    out = run_ok(capsys, "draw", "lstm", "--steps", "2", "--out", str(tmp_path / "lstm.svg"))
    assert out.strip().endswith("lstm.svg") and (tmp_path / "lstm.svg").stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["train"], "the following arguments are required: task"),
        (["train", "nope"], "unknown task 'nope'; tasks: adding"),
        (["train", "adding", "--max-steps", "0"], "expected a positive integer, got '0'"),
        (["train", "adding", "--set", "foo=1"], "unknown key 'foo'"),
        (["train", "adding", "--set", "train.lr=fast"], "train.lr=fast: expected float"),
        (["train", "adding", "--config", "missing.toml"], "missing.toml does not exist"),
        (["eval", "adding", "--model", "no/such/dir"], "does not exist"),
        (["eval", "adding"], "required: --model"),
        (["gradflow", "--cells", "rnn,xyz"], "unknown cell(s) ['xyz']"),
        (["gradflow", "--out", "flow.jpg"], ".png or .svg"),
        (["longrange", "--task", "nope"], "invalid choice: 'nope'"),
        (["longrange", "--lengths", "5,x"], "expected a positive integer, got 'x'"),
        (["draw", "lstm", "--out", "a.pdf"], ".png or .svg"),
        (["tasks", "--extra"], "unrecognized arguments: --extra"),
    ],
)
def test_user_errors_are_one_line_with_status_2(capsys, argv, message):
    assert message in run_fails(capsys, *argv)


def test_bad_config_file_names_key_and_file(capsys, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("hidden_size = 8\n[train]\nmax_step = 3\n")
    err = run_fails(capsys, "train", "adding", "--config", str(config))
    assert str(config) in err and "unknown key 'train.max_step' (did you mean 'max_steps'?)" in err
    config.write_text('preset = ["small"]\n')
    assert "preset must be a string, got ['small']" in run_fails(
        capsys, "train", "adding", "--config", str(config)
    )
    config.write_bytes(b'preset = "sm\xffall"\n')
    assert "TOML must be UTF-8" in run_fails(capsys, "train", "adding", "--config", str(config))
    assert "is a directory" in run_fails(capsys, "train", "adding", "--config", str(tmp_path))


def test_bad_predict_input_and_wrong_task(capsys, trained):
    assert "mark exactly two values" in run_fails(
        capsys, "predict", "adding", "--model", str(trained), "0.1 0.2"
    )
    assert "no input: give inputs as arguments or on stdin" in run_fails(
        capsys, "predict", "adding", "--model", str(trained), "", "  "
    )
    assert "holds a model of task 'adding', not 'copy'" in run_fails(
        capsys, "eval", "copy", "--model", str(trained)
    )
    assert "cannot be decoded as an ensemble" in run_fails(
        capsys, "eval", "adding", "--model", str(trained), "--model", str(trained)
    )


def test_python_dash_m_and_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "rnnkit", "tasks"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("adding")
    script = shutil.which("rnnkit", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the rnnkit script is not installed in this environment")
    bad = subprocess.run([script, "train", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("rnnkit train: error: unknown task")


@pytest.mark.slow
def test_train_data_parallel_over_two_processes(tmp_path):
    out = tmp_path / "ddp"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnkit",
            "train",
            "adding",
            *TINY,
            "--set",
            "train_size=128",
            "--max-steps",
            "3",
            "--nproc",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["steps"] == 3
    assert "dev mse:" in result.stdout
