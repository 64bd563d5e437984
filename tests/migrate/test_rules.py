"""Every rule's VALID and INVALID examples are tests; the registry stays light."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from migrate.analysis import analyze_sources
from migrate.rules import RULES, load_rule_classes, lookup, rules_markdown

CLASSES = load_rule_classes()


def _examples(kind: str):
    out = []
    for cls in CLASSES:
        for i, ex in enumerate(getattr(cls, kind)):
            src, expected = ex if isinstance(ex, tuple) else (ex, None)
            out.append(pytest.param(cls, src, expected, id=f"{cls.code}-{kind.lower()}-{i}"))
    return out


def _run(src: str, fix: bool = False):
    return analyze_sources({"example.py": textwrap.dedent(src)}, fix=fix).get("example.py")


@pytest.mark.parametrize(("cls", "src", "expected"), _examples("INVALID"))
def test_invalid_example_is_reported(cls, src, expected):
    res = _run(src, fix=True)
    assert res is not None and res.error is None
    codes = [f.rule for f in res.findings]
    assert cls.code in codes, f"{cls.code} not reported; got {codes}"
    for f in res.findings:
        if f.rule == cls.code:
            assert f.fixable == cls.fixable
            assert f.message and f.line >= 1 and f.col >= 1
    if expected is not None:
        assert res.new_source == textwrap.dedent(expected)
        # the result is a fixed point
        again = _run(res.new_source, fix=True)
        assert again is None or (again.new_source is None and not again.findings)
    if not cls.fixable:
        assert res.new_source is None


@pytest.mark.parametrize(("cls", "src", "expected"), _examples("VALID"))
def test_valid_example_is_quiet(cls, src, expected):
    res = _run(src, fix=True)
    if res is not None:
        assert res.error is None
        assert [f for f in res.findings if f.rule == cls.code] == []
        assert res.new_source is None


def test_every_rule_has_examples_and_docs():
    assert [c.code for c in CLASSES] == sorted(RULES)
    for cls in CLASSES:
        info = RULES[cls.code]
        assert info.name == cls.name and info.fixable == cls.fixable
        assert cls.code.startswith("QM") and len(cls.code) == 5
        assert cls.name == cls.name.lower() and " " not in cls.name
        assert cls.VALID and cls.INVALID
        assert len(info.doc) > 200, f"{cls.code} needs a docstring that explains the rewrite"
        import inspect

        assert info.doc == inspect.cleandoc(cls.__doc__)


def test_lookup_by_code_or_name():
    assert lookup("qm001").code == "QM001"
    assert lookup("wiring-parameters").code == "QM002"
    assert lookup("QM999") is None


def test_markdown_lists_every_rule():
    md = rules_markdown()
    for code, info in RULES.items():
        assert f"## {code} `{info.name}`" in md
        assert info.summary in md


def test_registry_and_prefilter_do_not_import_libcst():
    code = (
        "import sys\n"
        "import migrate.prefilter, migrate.rules\n"
        "from migrate.rules import RULES\n"
        "assert RULES and migrate.prefilter.might_need_migration('x.get_result(y)')\n"
        "assert 'libcst' not in sys.modules, 'libcst imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rows = q.get_result(parent_id)", True),
        ("dag.add_job(extract)", True),
        ("dag.add_node(extract)", True),
        ("q.enqueue(f)", True),
        ("import os\nprint('hello')\n", False),
        ("def result(): return 1\n", False),
    ],
)
def test_prefilter(text, expected):
    from migrate.prefilter import might_need_migration

    assert might_need_migration(text) is expected


def test_a_project_without_get_result_has_nothing_to_find():
    from migrate.prefilter import might_define_legacy_task

    pipeline = "from tasks import t\nwith DAG('x') as dag:\n    dag.add_job(t, args=(1, 2))\n"
    assert not might_define_legacy_task(pipeline)
    assert analyze_sources({"pipeline.py": pipeline}) == {}
    assert might_define_legacy_task("x = q.get_result(pid)")
