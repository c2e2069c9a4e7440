"""The core tiers import only the tiers below them (DESIGN.md section 1), read from the source:
importing ``rnnkit.cells`` runs the package's ``__init__``, which loads every tier anyway."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rnnkit

PACKAGE = Path(rnnkit.__file__).parent
NEVER = {"train", "diagnostics", "tasks", "cli"}
ABOVE = {
    "cells": NEVER | {"unroll", "layers", "patterns", "decoding"},
    "unroll": NEVER | {"layers", "patterns", "decoding"},
    "layers": NEVER | {"patterns", "decoding"},
}


def imported_subpackages(path: Path) -> set[str]:
    """The rnnkit subpackages (first level) that a source file imports."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts  # ("rnnkit", "cells", "lstm")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = list(parts[: len(parts) - node.level])
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("rnnkit.") and n.count(".") >= 1}
    return found


@pytest.mark.parametrize("tier", ABOVE)
def test_core_tier_imports_nothing_above_it(tier):
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_subpackages(path) & ABOVE[tier])
        for path in sorted((PACKAGE / tier).rglob("*.py"))
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"rnnkit.{tier} imports tiers above it: {offenders}"


def test_the_check_sees_relative_imports():
    found = imported_subpackages(PACKAGE / "layers" / "recurrent.py")
    assert {"cells", "unroll"} <= found
