"""Output formats: text, json, sarif 2.1.0, github."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

import click

from migrate import report
from migrate.engine import FileError
from migrate.model import Finding
from migrate.report import Report

FINDINGS = [
    Finding("pkg/tasks.py", 12, 5, "QM001", "reads parent 'extract' by hand", True,
            "use context.upstream('extract')"),
    Finding("b.py", 3, 1, "QM003", "parent id computed at run time: cannot rewrite", False, None),
    Finding("pkg/tasks.py", 10, 1, "QM002", "wiring parameters parent_id, queue_path", True),
]


def _rules():
    from migrate.rules import RULES

    return RULES


def test_text_is_sorted_with_a_summary():
    out = report.format_text(Report(FINDINGS, 7))
    assert out.splitlines() == [
        "b.py:3:1: QM003 parent id computed at run time: cannot rewrite",
        "pkg/tasks.py:10:1: QM002 wiring parameters parent_id, queue_path",
        "pkg/tasks.py:12:5: QM001 reads parent 'extract' by hand",
        "    hint: use context.upstream('extract')",
        "Found 3 findings (2 fixable) in 7 files.",
    ]


def test_text_in_colour_styles_the_place_the_code_and_the_hint():
    out = report.format_text(Report(FINDINGS[:1], 1), color=True)
    assert "\x1b[1mpkg/tasks.py:12:5:\x1b[0m" in out and "\x1b[36m    hint: use context" in out
    assert click.unstyle(out) == report.format_text(Report(FINDINGS[:1], 1))


def test_no_files_is_not_all_clear():
    assert report.format_text(Report([], 0)) == "No Python files found.\n"
    out = report.format_text(Report([], 1, [FileError("x.py", "boom")]))
    assert out.splitlines()[-1] == "Not clear: 1 file could not be analysed (see the errors above)."


def test_text_all_clear_and_errors():
    assert report.format_text(Report([], 1)) == (
        "All clear: no legacy wiring found in 1 file.\n")
    out = report.format_text(Report([], 3, [FileError("x.py", "invalid syntax (line 2)")]))
    assert out.splitlines() == [
        "x.py: error: invalid syntax (line 2)",
        "Not clear: 1 file could not be analysed (see the errors above); "
        "no legacy wiring found in the rest (3 files in all).",
    ]


def test_json_shape():
    data = json.loads(report.format_json(Report(FINDINGS, 7, [FileError("x.py", "boom")])))
    assert set(data) == {"findings", "errors", "summary"}
    first = data["findings"][0]
    assert {"path", "line", "col", "rule", "message", "fixable"} <= set(first)
    assert [f["path"] for f in data["findings"]] == ["b.py", "pkg/tasks.py", "pkg/tasks.py"]
    assert data["errors"] == [{"path": "x.py", "message": "boom"}]
    assert data["summary"] == {
        "files_scanned": 7, "files_with_findings": 2, "findings": 3, "fixable": 2,
        "errors": 1, "by_rule": {"QM001": 1, "QM002": 1, "QM003": 1},
    }


def test_github_annotations_escape_their_fields():
    findings = [Finding("dir,odd:name.py", 4, 2, "QM001", "50% done\nsecond line", True, None)]
    out = report.format_github(Report(findings, 1, [FileError("x.py", "bad")]))
    assert out.splitlines() == [
        "::warning file=dir%2Codd%3Aname.py,line=4,col=2,title=QM001::50%25 done%0Asecond line",
        "::error file=x.py,title=migrate::bad",
    ]
    assert report.format_github(Report([], 1)) == ""


def _check_sarif(doc: dict, rule_ids: set[str]) -> None:
    """The structure code scanning needs from SARIF 2.1.0."""
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] and driver["version"]
    ids = [r["id"] for r in driver["rules"]]
    assert set(ids) == rule_ids
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"note", "warning", "error"}
    for res in run["results"]:
        assert res["ruleId"] in ids
        assert ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in {"note", "warning", "error"}
        assert res["message"]["text"]
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"]["uri"]
        assert phys["region"]["startLine"] >= 1 and phys["region"]["startColumn"] >= 1


def test_sarif_structure_with_given_rules():
    rules = {
        code: SimpleNamespace(code=code, name=name, summary=f"{name} summary",
                              doc=f"{name}\n\nLong text.", fixable=fix, module="x")
        for code, name, fix in [("QM001", "manual-parent-read", True),
                                ("QM002", "wiring-parameters", True),
                                ("QM003", "unresolvable", False)]
    }
    findings = FINDINGS + [Finding("/abs/path with space.py", 1, 1, "QM001", "m", True)]
    doc = json.loads(report.format_sarif(Report(findings, 7), rules))
    _check_sarif(doc, {"QM001", "QM002", "QM003"})
    results = doc["runs"][0]["results"]
    assert len(results) == 4
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in results]
    assert uris[0] == {"uri": "/abs/path%20with%20space.py"} or uris[0]["uri"].startswith(
        "file:///abs/path%20with%20space.py")
    assert {"uri": "pkg/tasks.py", "uriBaseId": "%SRCROOT%"} in uris
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is True
    assert results[1]["message"]["text"].startswith("parent id computed")
    assert "Hint: use context.upstream" in [r for r in results if r["ruleId"] == "QM001"
                                            and r["locations"][0]["physicalLocation"]
                                            ["region"]["startLine"] == 12][0]["message"]["text"]


def test_sarif_with_the_real_rules():
    rules = _rules()
    doc = json.loads(report.render(Report(FINDINGS, 3), "sarif"))
    _check_sarif(doc, set(rules))
    assert {"QM001", "QM002", "QM003"} <= set(rules)


def test_sarif_names_a_file_whose_name_is_not_utf8():
    # os.listdir gives such a name with surrogate escapes; the uri holds its real bytes
    name = b"caf\xe9_tasks.py".decode("utf-8", "surrogateescape")
    found = [Finding(f"src/{name}", 8, 5, "QM002", "wiring parameters", True)]
    doc = json.loads(report.render(Report(found, 1), "sarif"))
    location = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "src/caf%E9_tasks.py"


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown format"):
        report.render(Report([], 0), "xml")


def test_rules_listings():
    rules = _rules()
    text = report.rules_text(rules)
    assert [line.split()[0] for line in text.splitlines()] == sorted(rules)
    listed = json.loads(report.rules_json(rules))
    assert [r["code"] for r in listed] == sorted(rules)
    assert all({"name", "summary", "fixable", "doc"} <= set(r) for r in listed)
