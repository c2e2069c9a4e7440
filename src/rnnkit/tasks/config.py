"""Run configurations: a task's knobs plus the Trainer's, from presets, TOML files and ``--set``.

A run is described by one dict (or TOML file) of this shape::

    preset = "small"          # optional: which of the task's named configs to start from
    cell = "lstm"             # the task's own fields (its ``Config`` dataclass)
    hidden_size = 64
    [train]                   # rnnkit.train.TrainConfig fields
    max_steps = 2000
    lr = 0.003

Layers, each overriding the one before: the task's ``Config`` defaults, the chosen preset, the
file, ``--set key=value`` (``train.lr=0.01`` for the train table), then explicit CLI flags.
Every layer is checked strictly: an unknown key or a value of the wrong type is an error that
names the key (and the file) and lists the valid keys, so a typo never falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from ..train import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TRAIN_TABLE = "train"
PRESET_KEY = "preset"


class ConfigError(ValueError):
    """A configuration is invalid; the message names the key and the source."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run of a task."""

    task: str
    preset: str
    config: Any  # the task's Config dataclass instance
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "preset": self.preset,
            "config": dataclasses.asdict(self.config),
            "train": self.train.to_dict(),
        }


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a TOML config file; a missing or malformed file is a ConfigError naming it."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except tomllib.TOMLDecodeError as err:  # its message gives the line and column
        raise ConfigError(f"{path}: invalid TOML: {err}") from None
    except UnicodeDecodeError as err:
        where = f"{err.reason} at byte {err.start}"
        raise ConfigError(f"{path}: TOML must be UTF-8 ({where})") from None


def merge_layer(base: dict[str, Any], layer: dict[str, Any], fields: dict[str, Any], where: str):
    """``base`` updated with ``layer`` (a dict of the run-config shape), checked key by key."""
    merged = {**base, TRAIN_TABLE: dict(base.get(TRAIN_TABLE, {}))}
    train_fields = typing.get_type_hints(TrainConfig)
    for key, value in layer.items():
        if key == PRESET_KEY:
            continue  # resolved by the caller before the layers are merged
        if key == TRAIN_TABLE:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{TRAIN_TABLE}] must be a table, got {value!r}")
            for train_key, train_value in value.items():
                _check_key(f"{TRAIN_TABLE}.{train_key}", train_key, train_fields, where)
                check_value(
                    f"{TRAIN_TABLE}.{train_key}", train_value, train_fields[train_key], where
                )
                merged[TRAIN_TABLE][train_key] = train_value
            continue
        _check_key(key, key, fields, where, extra=[PRESET_KEY, f"[{TRAIN_TABLE}]"])
        check_value(key, value, fields[key], where)
        merged[key] = value
    return merged


def parse_assignment(text: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``"key=value"`` (or ``"train.key=value"``) as a one-key layer, the value parsed by the
    type of the field it sets."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: expected key=value")
    table, dot, train_key = key.partition(".")
    if dot:
        if table != TRAIN_TABLE:
            raise ConfigError(f"--set {key}: only the [{TRAIN_TABLE}] table has dotted keys")
        train_fields = typing.get_type_hints(TrainConfig)
        _check_key(key, train_key, train_fields, "--set")
        return {TRAIN_TABLE: {train_key: parse_value(key, raw.strip(), train_fields[train_key])}}
    _check_key(key, key, fields, "--set", extra=[f"{TRAIN_TABLE}.<key>"])
    return {key: parse_value(key, raw.strip(), fields[key])}


def parse_value(key: str, text: str, hint: Any) -> Any:
    """Parse command-line text as a value of type ``hint``; ConfigError names the key."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if type(None) in options and text.lower() in ("none", "null"):
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return parse_value(key, text, option)
            except ConfigError:
                pass
        raise ConfigError(f"--set {key}={text}: expected {describe(hint)}")
    if origin is tuple:
        parts = [p for p in text.split(",") if p.strip()]
        args = typing.get_args(hint)
        if len(parts) != len(args):
            raise ConfigError(f"--set {key}={text}: expected {len(args)} comma-separated values")
        return tuple(parse_value(key, p.strip(), a) for p, a in zip(parts, args, strict=True))
    if origin is Literal:
        check_value(key, text, hint, "--set")
        return text
    if hint is bool:
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
    elif hint in (int, float):
        try:
            return hint(text)
        except ValueError:
            pass
    elif hint is str:
        return text
    raise ConfigError(f"--set {key}={text}: expected {describe(hint)}")


def check_value(key: str, value: Any, hint: Any, where: str) -> None:
    """Raise ConfigError unless ``value`` has the type (and, for a Literal, a valid choice)."""
    if typing.get_origin(hint) is Literal and isinstance(value, str):
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"{where}: {key} must be one of {list(choices)}, got {value!r}")
        return
    if not _matches(value, hint):
        raise ConfigError(
            f"{where}: {key} must be {describe(hint)}, got {type(value).__name__} {value!r}"
        )


def build_dataclass(cls: type, data: dict[str, Any], where: str) -> Any:
    """An instance of the (config) dataclass ``cls`` from ``data``, checked strictly."""
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        _check_key(key, key, hints, where)
        check_value(key, value, hints[key], where)
    try:
        return cls(**data)
    except (TypeError, ValueError) as err:  # the dataclass's own range checks
        raise ConfigError(f"{where}: {err}") from None


def describe(hint: Any) -> str:
    """A type hint in words, for error messages."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(hint))
    if origin is tuple:
        return "a list of " + ", ".join(describe(a) for a in typing.get_args(hint))
    return "none" if hint is type(None) else hint.__name__


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and len(value) == len(args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # bool is an int subclass, but `hidden_size = true` is a mistake
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # an int is a fine float (`lr = 1`)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _check_key(shown: str, key: str, valid: dict[str, Any], where: str, extra=()) -> None:
    if key in valid:
        return
    names = [*valid, *extra]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"{where}: unknown key {shown!r}{hint}; valid keys: {', '.join(names)}")


def resolve_run_config(
    task: Any,
    *,
    preset: str | None = None,
    file: str | os.PathLike | None = None,
    assignments: typing.Sequence[str] = (),
    train_overrides: dict[str, Any] | None = None,
) -> RunConfig:
    """The run config of ``task`` from its defaults, a preset, a TOML file, ``--set`` strings
    and explicit Trainer overrides (``{"max_steps": 10}``), in that order of precedence."""
    fields = typing.get_type_hints(task.Config)
    file_data = load_toml(file) if file is not None else {}
    if preset is None:
        preset = file_data.get(PRESET_KEY, task.default_preset)
        if not isinstance(preset, str):
            raise ConfigError(f"{file}: {PRESET_KEY} must be a string, got {preset!r}")
    if preset not in task.configs:
        raise ConfigError(
            f"task {task.name!r} has no preset {preset!r}; presets: {', '.join(task.configs)}"
        )
    layers = [
        (task.train_defaults and {TRAIN_TABLE: task.train_defaults}, f"{task.name} defaults"),
        (task.configs[preset], f"preset {preset!r}"),
        (file_data, str(file)),
        *((parse_assignment(text, fields), "--set") for text in assignments),
        ({TRAIN_TABLE: train_overrides or {}}, "command line"),
    ]
    merged: dict[str, Any] = {TRAIN_TABLE: {}}
    for layer, where in layers:
        merged = merge_layer(merged, layer or {}, fields, where)
    train_data = merged.pop(TRAIN_TABLE)
    try:
        train = TrainConfig.from_dict(train_data)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[{TRAIN_TABLE}]: {err}") from None
    return RunConfig(task.name, preset, build_dataclass(task.Config, merged, task.name), train)
