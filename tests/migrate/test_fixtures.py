"""The codemod cases under fixtures/: rewrite, scan output, and idempotence.

A case is ``fixtures/<rule>/<case>/`` with either ``input.py`` (one file) or an ``input/`` folder
(a small project, module names taken from the paths inside it). Next to it:
``expected.py`` / ``expected/`` is the text after ``apply`` (byte for byte, CRLF included) and
``expected_scan.txt`` the findings of ``scan``. Refresh them with ``pytest --snapshot-update``
and read the diff before committing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.analysis import analyze_sources
from migrate.model import RuleSelection

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _cases() -> list[Path]:
    out = []
    for case in sorted(FIXTURES.glob("*/*")):
        if case.is_dir() and ((case / "input.py").is_file() or (case / "input").is_dir()):
            out.append(case)
    return out


CASES = _cases()
IDS = [f"{c.parent.name}/{c.name}" for c in CASES]


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def load(case: Path, which: str = "input") -> dict[str, str]:
    single = case / f"{which}.py"
    if single.is_file():
        return {f"{which}.py": _read(single)}
    root = case / which
    return {p.relative_to(root).as_posix(): _read(p) for p in sorted(root.rglob("*.py"))}


def scan_text(results) -> str:
    lines = []
    for path in sorted(results):
        res = results[path]
        if res.error:
            lines.append(f"{path}: error: {res.error}")
        for f in res.findings:
            lines.append(f"{f.path}:{f.line}:{f.col}: {f.rule} {f.message}")
            if f.hint:
                lines.append(f"    hint: {f.hint}")
    return "\n".join(lines) + ("\n" if lines else "")


def test_there_are_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rewrite(case: Path, snapshot):
    sources = load(case)
    results = analyze_sources(sources, fix=True)
    single = (case / "input.py").is_file()
    snapshot.snapshot_dir = case
    outputs = {}
    for name, text in sources.items():
        res = results.get(name)
        new = res.new_source if res is not None and res.new_source is not None else text
        outputs[name] = new
        if new != text:
            compile(new, name, "exec")  # what the engine checks before writing
    if single:
        snapshot.assert_match(outputs["input.py"].encode("utf-8"), "expected.py")
    else:
        snapshot.assert_match_dir(_nest({k: v.encode("utf-8") for k, v in outputs.items()}), "expected")


def _nest(flat: dict[str, str]) -> dict:
    """{"etl/steps.py": x} -> {"etl": {"steps.py": x}} for assert_match_dir."""
    out: dict = {}
    for name, value in flat.items():
        parts = name.split("/")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scan(case: Path, snapshot):
    results = analyze_sources(load(case), fix=False)
    snapshot.snapshot_dir = case
    snapshot.assert_match(scan_text(results), "expected_scan.txt")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_expected_is_a_fixed_point(case: Path):
    single = (case / "expected.py").is_file()
    if not single and not (case / "expected").is_dir():
        pytest.fail(f"{case} has no expected output yet: run pytest --snapshot-update")
    expected = load(case, "expected")
    results = analyze_sources(expected, fix=True)
    changed = [p for p, r in results.items() if r.new_source is not None]
    assert changed == [], f"a second pass would change {changed}"
    # and nothing fixable is left: only unresolvable findings (QM003) may remain
    fixable = [f for r in results.values() for f in r.findings if f.fixable]
    original = analyze_sources(load(case), fix=False)
    suppressed_case = any(
        "noqa" in t or "migrate: ignore" in t for t in load(case).values()
    )
    if not suppressed_case:
        assert fixable == [], fixable
    else:
        # a suppressed task keeps its findings, the same as before
        before = sorted((f.rule, f.line) for r in original.values() for f in r.findings)
        after = sorted((f.rule, f.line) for r in results.values() for f in r.findings)
        assert after == before


def test_selection_applies_nothing_without_both_rules():
    sources = load(FIXTURES / "QM001" / "assigned_and_closed")
    only_qm001 = analyze_sources(sources, RuleSelection(select=frozenset({"QM001"})), fix=True)
    res = only_qm001["input.py"]
    assert res.new_source is None
    assert {f.rule for f in res.findings} == {"QM001"}
    ignored = analyze_sources(sources, RuleSelection(ignore=frozenset({"QM002"})), fix=True)
    assert ignored["input.py"].new_source is None
