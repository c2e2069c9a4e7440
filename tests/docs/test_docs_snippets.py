"""Every ```python block of every page under docs/ (and of the README) runs, so the
documentation cannot rot.

A page's blocks run in order in one namespace (a later block may use an earlier one's names), in
a fresh temporary working directory, with matplotlib's Agg backend and a fixed torch seed.

Convention for page authors: a block fenced as ```python runs. An illustrative fragment that
cannot run on its own (it uses names the page never defines) is fenced as ```python skip (or
``no-run``): it is still highlighted as Python but not executed. Prefer runnable blocks. A page
whose examples take more than a few seconds (a real training run) says so with the line
``<!-- snippets: slow -->``: its test is then marked slow and runs with ``make test-slow``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CORE_PAGES = [
    "index.md",
    "cells.md",
    "unfolding.md",
    "deep-and-bidirectional.md",
    "regularisation-and-skips.md",
]
SKIP_WORDS = {"skip", "no-run", "norun"}

# A fence may be indented (inside a list item); the closing fence has the same indentation.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```[ \t]*python(?P<info>[^\n`]*)\n(?P<code>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(first line number, code, runs)`` for every ```python block of a markdown text."""
    blocks = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        code = textwrap.dedent(match.group("code"))
        runs = not (set(match.group("info").split()) & SKIP_WORDS)
        blocks.append((line, code, runs))
    return blocks


SLOW_MARK = "<!-- snippets: slow -->"


def pages() -> list[Path]:
    """Every markdown page under docs/, subfolders included."""
    return sorted(DOCS.rglob("*.md"))


def page_params() -> list:
    return [
        pytest.param(
            page,
            id=page_name(page),
            marks=[pytest.mark.slow] if SLOW_MARK in page.read_text(encoding="utf-8") else [],
        )
        for page in [*pages(), README]
    ]


def page_name(page: Path) -> str:
    """``docs/``-relative for guide pages, ``README.md`` for the README."""
    return page.relative_to(DOCS if page.is_relative_to(DOCS) else ROOT).as_posix()


@pytest.mark.parametrize("page", page_params())
def test_page_snippets_run(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    namespace = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    try:
        for line, code, runs in python_blocks(page.read_text(encoding="utf-8")):
            if not runs:
                continue
            # The file name in a traceback points at the page and the block's first line.
            where = f"{page.relative_to(ROOT).as_posix()}, block at line {line}"
            compiled = compile(code, where, "exec")
            exec(compiled, namespace)
    finally:
        plt.close("all")
        torch.set_num_threads(threads)
        torch.set_default_dtype(torch.float32)
        torch.set_grad_enabled(True)


@pytest.mark.parametrize("name", CORE_PAGES)
def test_core_page_exists_with_a_runnable_snippet(name):
    page = DOCS / name
    assert page.is_file(), f"missing docs/{name}"
    assert any(runs for _, _, runs in python_blocks(page.read_text(encoding="utf-8")))


def test_index_links_every_page():
    """docs/index.md is the table of contents: a new page appends its link there."""
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w./-]+\.md)\)", index))
    missing = {p.relative_to(DOCS).as_posix() for p in pages()} - linked - {"index.md"}
    assert not missing, f"docs/index.md does not link {sorted(missing)}"
    broken = {link for link in linked if not (DOCS / link).is_file()}
    assert not broken, f"docs/index.md links missing pages {sorted(broken)}"


def test_block_extraction():
    text = (
        "Intro\n```python\na = 1\n```\n"
        "- item\n\n  ```python\n  b = a + 1\n  ```\n"
        "```python skip\nundefined_name\n```\n"
        "```text\nnot python\n```\n"
        "```py\nnot collected either\n```\n"
    )
    blocks = python_blocks(text)
    assert [(code, runs) for _, code, runs in blocks] == [
        ("a = 1\n", True),
        ("b = a + 1\n", True),
        ("undefined_name\n", False),
    ]
    assert [line for line, _, _ in blocks] == [3, 8, 11]
