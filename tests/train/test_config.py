"""TrainConfig rejects what it cannot honour, naming the key, and round-trips through dicts."""

from __future__ import annotations

import json

import pytest

from rnnkit.train import TrainConfig


def test_round_trip_through_json():
    config = TrainConfig(max_steps=5, clip_norm=1.0, tbptt=20, betas=(0.8, 0.9))
    data = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(data) == config


def test_unknown_keys_are_named_with_a_suggestion_and_the_valid_keys():
    with pytest.raises(ValueError) as info:
        TrainConfig.from_dict({"max_step": 5, "learning_rate": 0.1})
    message = str(info.value)
    assert "'max_step' (did you mean 'max_steps'?)" in message
    assert "'learning_rate'" in message
    assert "valid keys: max_steps, batch_size, lr," in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("batch_size", True, "expected int, got bool"),
        ("batch_size", 2.5, "expected int, got float"),
        ("lr", "fast", "expected float, got str"),
        ("clip_norm", "1", "expected float or None, got str"),
        ("progress", 1, "expected bool, got int"),
        ("betas", [0.9], "expected a list of float, float"),
        ("optimizer", 3, "expected str, got int"),
    ],
)
def test_wrong_types_name_the_key(key, value, expected):
    with pytest.raises(TypeError, match=f"TrainConfig.{key}: {expected}"):
        TrainConfig.from_dict({key: value})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("max_steps", 0, ">= 1"),
        ("optimizer", "adagrad", "one of"),
        ("schedule", "linear", "one of"),
        ("lr", 0.0, "> 0"),
        ("clip_value", -1.0, "> 0"),
        ("tbptt", 0, ">= 1 or None"),
        ("lr_gamma", 1.5, r"in \(0, 1\]"),
        ("seed", 2**64, r"< 2\*\*63"),
        ("betas", (0.9, 1.0), r"two values in \[0, 1\)"),
    ],
)
def test_out_of_range_values_name_the_key(key, value, expected):
    with pytest.raises(ValueError, match=f"TrainConfig.{key}: expected {expected}"):
        TrainConfig.from_dict({key: value})


@pytest.mark.parametrize(
    ("device", "expected"),
    [("gpu", "'gpu' is not a device"), ("cuda:99", "'cuda:99', but this")],
)
def test_a_device_torch_cannot_use_here_is_named(device, expected):
    # On a CPU-only build "cuda:99" fails for want of CUDA; with GPUs, for want of the 99th.
    with pytest.raises(ValueError, match=f"TrainConfig.device: {expected}"):
        TrainConfig.from_dict({"device": device})


def test_ints_are_accepted_as_floats_and_lists_as_tuples():
    config = TrainConfig.from_dict({"lr": 1, "betas": [0.5, 0.5]})
    assert config.lr == 1 and config.betas == (0.5, 0.5)
    hash(config)  # still hashable


def test_from_dict_wants_a_dict():
    with pytest.raises(TypeError, match="expected a dict, got list"):
        TrainConfig.from_dict([("lr", 1)])
