"""The task registry: names, aliases, errors, laziness."""

import importlib
import subprocess
import sys

import pytest

from rnnkit.tasks import REGISTRY, describe_tasks, get_task, resolve_name, task_names
from rnnkit.tasks.base import Task


def test_names_and_aliases_resolve():
    assert {"adding", "copy", "digits"} <= set(task_names())
    assert resolve_name("Adding-Problem") == "adding"
    assert resolve_name("copy-memory") == "copy"
    assert get_task("seq-digits").name == "digits"


def test_unknown_task_lists_the_tasks():
    with pytest.raises(ValueError, match=r"unknown task 'nope'; tasks: adding .*copy.*digits"):
        get_task("nope")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_entries_match_the_classes(name):
    module, cls, aliases, description = REGISTRY[name]
    task = getattr(importlib.import_module(module), cls)()
    assert isinstance(task, Task)
    assert (task.name, task.aliases, task.description) == (name, aliases, description)
    assert (name, aliases, description) in describe_tasks()


def test_listing_tasks_imports_no_task_module():
    code = (
        "import sys, rnnkit.cli, rnnkit.tasks as t; t.describe_tasks(); "
        "print(any(m.startswith(('sklearn', 'rnnkit.tasks.longrange')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
