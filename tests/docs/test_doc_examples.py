"""Every Python example in the docs runs.

What runs: each block fenced as ```python in README.md and docs/*.md, unless its first line is
`# not run` (fragments, code that needs a server or pyspark), and nothing inside the generated
rule reference of docs/MIGRATE.md (its examples show legacy code on purpose). Blocks fenced with
another language (sh, text, toml, yaml) are never run.

How: each block is self-contained and runs on its own, in a fresh module (registered in
sys.modules, so that its task functions can be pickled by reference like any module's), with a
temporary folder as the working directory. Any exception fails the test, which names the file
and the line where the block starts.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATED = re.compile(r"<!-- BEGIN GENERATED[^>]*-->.*?<!-- END GENERATED[^>]*-->", re.S)
FENCE = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
                   re.S | re.M)


def blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, code) of the blocks of `path` that are meant to run."""
    text = path.read_text(encoding="utf-8")
    # blank out the generated reference, keeping line numbers
    text = GENERATED.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    found = []
    for match in FENCE.finditer(text):
        info = match.group("info").strip().split()
        if not info or info[0] != "python":
            continue
        body = match.group("body")
        first = body.lstrip().splitlines()[0].strip() if body.strip() else ""
        if first.startswith("# not run"):
            continue
        line = text.count("\n", 0, match.start()) + 2  # the first line of code
        found.append((line, body))
    return found


CASES = [(path, line, code) for path in DOCS if path.exists() for line, code in blocks(path)]


def test_the_docs_have_examples_to_run():
    names = {path.name for path, _, _ in CASES}
    assert {"README.md", "CONTEXT_INTEGRATION_GUIDE.md", "RUNTIME.md"} <= names


def test_the_extractor_skips_what_is_not_meant_to_run(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "```python\nx = 1\n```\n\n```python\n# not run\nraise SystemExit\n```\n\n"
        "```sh\nexit 1\n```\n\n<!-- BEGIN GENERATED: x -->\n```python\nboom\n```\n<!-- END GENERATED: x -->\n"
        "\n```python\ny = 2\n```\n"
    )
    assert blocks(doc) == [(2, "x = 1\n"), (21, "y = 2\n")]


@pytest.mark.parametrize(("path", "line", "code"), CASES,
                         ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _ in CASES])
def test_doc_example_runs(path, line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = f"doc_example_{path.stem.lower()}_{line}"
    module = types.ModuleType(name)
    module.__file__ = str(tmp_path / f"{name}.py")
    sys.modules[name] = module
    try:
        compiled = compile("\n" * (line - 1) + code, str(path), "exec")
        exec(compiled, module.__dict__)
    finally:
        del sys.modules[name]
