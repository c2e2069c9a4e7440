"""Run configs: presets, files and --set layered in order, every mistake named."""

import pytest

from rnnkit.tasks import get_task
from rnnkit.tasks.config import ConfigError, resolve_run_config


@pytest.fixture
def adding():
    return get_task("adding")


def write(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_layers_override_in_order(adding, tmp_path):
    path = write(tmp_path, 'preset = "full"\nhidden_size = 32\n[train]\nlr = 0.5\nmax_steps = 7\n')
    run = resolve_run_config(
        adding,
        file=path,
        assignments=["hidden_size=16", "train.max_steps=9", "cell=gru"],
        train_overrides={"max_steps": 11},
    )
    assert run.preset == "full"
    assert run.config.length == 200  # from the preset
    assert run.config.hidden_size == 16  # --set beats the file, which beat the preset
    assert run.config.cell == "gru"
    assert run.train.lr == 0.5  # the file beats the task's train defaults
    assert run.train.max_steps == 11  # explicit flags beat everything
    assert run.train.batch_size == adding.train_defaults["batch_size"]


def test_defaults_and_round_trip(adding):
    run = resolve_run_config(adding)
    assert run.preset == "small" and run.config == adding.Config()
    assert run.to_dict()["config"]["length"] == 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "hiden_size = 3",
            r"unknown key 'hiden_size' \(did you mean 'hidden_size'\?\); valid keys",
        ),
        ("hidden_size = 'big'", "hidden_size must be int, got str 'big'"),
        ("hidden_size = true", "hidden_size must be int, got bool"),
        ("cell = 'transformer'", r"cell must be one of \['rnn', 'lstm', 'gru', 'leaky'\]"),
        ("length = 1", "length must be positive"),
        ("[train]\nlearning_rate = 1", r"unknown key 'train.learning_rate'.*valid keys: max_steps"),
        ("[train]\nbatch_size = 2.5", "train.batch_size must be int, got float"),
        ("[train]\nlr = -1", r"\[train\]: TrainConfig.lr: expected > 0"),
        ("train = 3", r"\[train\] must be a table"),
        ('preset = "huge"', "no preset 'huge'; presets: small, full"),
        ("hidden_size = ", "invalid TOML"),
    ],
)
def test_bad_files_name_the_problem(adding, tmp_path, text, message):
    path = write(tmp_path, text + "\n")
    with pytest.raises(ConfigError, match=message):
        resolve_run_config(adding, file=path)


def test_file_errors_name_the_file(adding, tmp_path):
    path = write(tmp_path, "hidden_size = 'big'\n")
    with pytest.raises(ConfigError, match=str(path)):
        resolve_run_config(adding, file=path)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_run_config(adding, file=tmp_path / "missing.toml")


def test_set_values_are_parsed_by_field_type(adding):
    run = resolve_run_config(
        adding,
        assignments=[
            "num_layers=2",
            "train.clip_norm=none",
            "train.lr=1e-2",
            "train.progress=false",
            "train.betas=0.8,0.9",
            "train.schedule=cosine",
        ],
    )
    assert run.config.num_layers == 2
    assert run.train.clip_norm is None
    assert run.train.lr == 0.01
    assert run.train.progress is False
    assert run.train.betas == (0.8, 0.9)
    assert run.train.schedule == "cosine"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("hidden_size=abc", "--set hidden_size=abc: expected int"),
        ("train.progress=maybe", "expected bool"),
        ("train.optimizer=rmsprop", r"optimizer must be one of \['adam', 'adamw', 'sgd'\]"),
        ("foo=1", r"unknown key 'foo'; valid keys: length, .*train\.<key>"),
        ("model.x=1", r"only the \[train\] table has dotted keys"),
        ("hidden_size", "expected key=value"),
    ],
)
def test_bad_set_values(adding, assignment, message):
    with pytest.raises(ConfigError, match=message):
        resolve_run_config(adding, assignments=[assignment])
