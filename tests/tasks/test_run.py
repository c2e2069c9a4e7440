"""Training a task, loading it back, and each task's predict()."""

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.tasks import get_task
from rnnkit.tasks.config import resolve_run_config
from rnnkit.tasks.run import evaluate_trained, find_checkpoint, load_any, load_trained, train_task

TINY = ["hidden_size=4", "train_size=64", "eval_size=16"]


@pytest.fixture(scope="module")
def copy_run(tmp_path_factory):
    task = get_task("copy")
    run = resolve_run_config(
        task, assignments=[*TINY, "delay=3", "num_symbols=2"], train_overrides={"max_steps": 2}
    )
    out = tmp_path_factory.mktemp("copy")
    summary = train_task(run, out)
    return task, run, out, summary


def test_load_trained_restores_the_weights_and_config(copy_run):
    task, run, out, _ = copy_run
    trained = load_trained(task, out)
    assert trained.config == run.config
    assert trained.checkpoint == out / "best"
    weights = load_file(str(out / "best" / "model.safetensors"))
    for name, value in trained.model.state_dict().items():
        torch.testing.assert_close(value, weights[name])
    assert load_any(out / "best").task.name == "copy"


def test_evaluate_trained_matches_the_objective(copy_run):
    task, _, out, summary = copy_run
    trained = load_trained(task, out)
    dev = evaluate_trained(trained, "dev")
    assert dev == pytest.approx(summary.metrics)  # the Trainer's final dev evaluation
    assert set(evaluate_trained(trained, "test")) == {"accuracy", "loss"}


def test_find_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_checkpoint(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        find_checkpoint(tmp_path)


def fresh(name, *assignments):
    """An untrained model of a task: predict() must work (and validate) before any training."""
    task = get_task(name)
    config = resolve_run_config(task, assignments=["hidden_size=4", *assignments]).config
    return task, task.build_model(config, {}).eval(), config


def test_copy_predict():
    task, model, config = fresh("copy", "delay=3", "num_symbols=3", "alphabet=4")
    (line,) = task.predict(model, config, {}, ["abd"])
    assert line.startswith("abd -> ") and "after 3 steps" in line
    recalled = line.split()[2]
    assert len(recalled) == 3 and set(recalled) <= set("abcd")
    for bad in ("abe", "ab", "abcd"):
        with pytest.raises(ValueError, match="expected 3 letters from 'abcd'"):
            task.predict(model, config, {}, [bad])


def test_digits_predict():
    task, model, config = fresh("digits", "length=64")
    pixels = " ".join(["16"] * 64)
    by_index, by_pixels = task.predict(model, config, {}, ["#0", pixels])
    assert by_index.startswith("predicted ") and "true " in by_index
    assert by_pixels.startswith("predicted ") and "true" not in by_pixels
    with pytest.raises(ValueError, match="#N with 0 <= N < 359"):
        task.predict(model, config, {}, ["#9999"])
    with pytest.raises(ValueError, match="#N with 0 <= N < 359"):  # not the last one, from the end
        task.predict(model, config, {}, ["#-1"])
    with pytest.raises(ValueError, match="64 pixel values"):
        task.predict(model, config, {}, ["1 2 3"])


def test_digits_fractions_that_leave_a_split_empty_are_named():
    task = get_task("digits")
    config = resolve_run_config(task, assignments=["dev_fraction=0.0002"]).config
    with pytest.raises(ValueError, match=r"dev_fraction=0.0002 leaves no image of 1797"):
        task.build_data(config)


def test_adding_predict_reports_the_true_sum():
    task, model, config = fresh("adding")
    (line,) = task.predict(model, config, {}, ["0.25* 0.5 0.125*"])
    assert "true 0.3750" in line
    with pytest.raises(ValueError, match="is not a number"):
        task.predict(model, config, {}, ["0.1* x 0.2*"])
