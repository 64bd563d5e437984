"""Output formats for findings: text, json, sarif (2.1.0) and GitHub workflow commands.

Every formatter takes the same inputs and returns a string; printing is the CLI's business.
Paths are shown as the engine discovered them (relative to the current folder when given so).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath
from urllib.parse import quote

from migrate import __version__
from migrate.model import Finding

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/queuack/queuack"


@dataclass
class Report:
    """What a scan found: the findings, the files that could not be analysed, how many were read."""

    findings: list[Finding]
    n_files: int
    errors: list = field(default_factory=list)  # objects with .path and .message

    @property
    def n_fixable(self) -> int:
        return sum(1 for f in self.findings if f.fixable)

    @property
    def files_with_findings(self) -> int:
        return len({f.path for f in self.findings})

    def summary(self) -> dict:
        return {
            "files_scanned": self.n_files,
            "files_with_findings": self.files_with_findings,
            "findings": len(self.findings),
            "fixable": self.n_fixable,
            "errors": len(self.errors),
            "by_rule": dict(sorted(Counter(f.rule for f in self.findings).items())),
        }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def finding_line(f: Finding) -> str:
    return f"{f.path}:{f.line}:{f.col}: {f.rule} {f.message}"


def finding_text(f: Finding, color: bool = False) -> str:
    """The finding's line and, below it, its hint: what text output shows for one finding."""
    if color:
        import click

        where = click.style(f"{f.path}:{f.line}:{f.col}:", bold=True)
        code = click.style(f.rule, fg="red" if not f.fixable else "yellow", bold=True)
        text = f"{where} {code} {f.message}"
        hint = click.style(f"    hint: {f.hint}", fg="cyan") if f.hint else ""
    else:
        text = finding_line(f)
        hint = f"    hint: {f.hint}" if f.hint else ""
    return f"{text}\n{hint}" if hint else text


def error_text(e, color: bool = False) -> str:
    if not color:
        return f"{e.path}: error: {e.message}"
    import click

    return f"{click.style(e.path + ':', bold=True)} {click.style('error:', fg='red', bold=True)} {e.message}"


def summary_line(report: Report) -> str:
    n = len(report.findings)
    files = _plural(report.n_files, "file")
    failed = _plural(len(report.errors), "file")
    if n:
        text = f"Found {_plural(n, 'finding')} ({report.n_fixable} fixable) in {files}."
        if report.errors:
            text += f" {failed} could not be analysed."
        return text
    if report.errors:  # a file that could not be analysed is never "clear"
        text = f"Not clear: {failed} could not be analysed (see the errors above)"
        if report.n_files > len(report.errors):
            text += f"; no legacy wiring found in the rest ({files} in all)"
        return text + "."
    if not report.n_files:
        return "No Python files found."
    return f"All clear: no legacy wiring found in {files}."


def format_text(report: Report, color: bool = False) -> str:
    lines = [finding_text(f, color) for f in sorted(report.findings)]
    lines += [error_text(e, color) for e in sorted(report.errors, key=_err_key)]
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _err_key(e) -> tuple:
    return (e.path, e.message)


def format_json(report: Report) -> str:
    data = {
        "findings": [f.to_dict() for f in sorted(report.findings)],
        "errors": [{"path": e.path, "message": e.message}
                   for e in sorted(report.errors, key=_err_key)],
        "summary": report.summary(),
    }
    return json.dumps(data, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(report: Report) -> str:
    """GitHub Actions workflow commands: annotations on the pull request's files."""
    lines = []
    for f in sorted(report.findings):
        message = f.message + (f"\n{f.hint}" if f.hint else "")
        lines.append(
            f"::warning file={_escape_property(f.path)},line={f.line},col={f.col},"
            f"title={_escape_property(f.rule)}::{_escape_data(message)}"
        )
    for e in sorted(report.errors, key=_err_key):
        lines.append(f"::error file={_escape_property(e.path)},title=migrate::"
                     f"{_escape_data(e.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _artifact_uri(path: str) -> str:
    # quoted from the file name's bytes: a name that is not UTF-8 (held as surrogate escapes)
    # becomes %XX escapes of its real bytes, as PurePath.as_uri does for an absolute path
    p = PurePath(path)
    if p.is_absolute():
        return p.as_uri() if hasattr(p, "as_uri") else quote(os.fsencode(p.as_posix()))
    return quote(os.fsencode(p.as_posix()))


def sarif_rules(rules: dict) -> list[dict]:
    """SARIF reportingDescriptors from RULES (code -> RuleInfo)."""
    out = []
    for code in sorted(rules):
        info = rules[code]
        doc = (info.doc or info.summary or "").strip()
        out.append({
            "id": code,
            "name": _pascal(info.name),
            "shortDescription": {"text": info.summary},
            "fullDescription": {"text": doc},
            "help": {"text": doc, "markdown": doc},
            "defaultConfiguration": {"level": "warning"},
            "properties": {"fixable": bool(info.fixable), "tags": ["queuack", "migration"]},
        })
    return out


def _pascal(name: str) -> str:
    parts = [p for p in name.replace("_", "-").split("-") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or name


def format_sarif(report: Report, rules: dict) -> str:
    descriptors = sarif_rules(rules)
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    results = []
    for f in sorted(report.findings):
        text = f.message + (f" Hint: {f.hint}" if f.hint else "")
        result = {
            "ruleId": f.rule,
            "level": "warning",
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": _artifact_uri(f.path)},
                    "region": {"startLine": f.line, "startColumn": f.col},
                },
            }],
            "properties": {"fixable": f.fixable},
        }
        if not PurePath(f.path).is_absolute():
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] = (
                "%SRCROOT%")
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": e.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _artifact_uri(e.path)}}}],
        }
        for e in sorted(report.errors, key=_err_key)
    ]
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "queuack-migrate",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": descriptors,
            }},
            "invocations": [{
                "executionSuccessful": not report.errors,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    }
    return json.dumps(sarif, indent=2) + "\n"


def render(report: Report, fmt: str, rules: dict | None = None, color: bool = False) -> str:
    if fmt == "text":
        return format_text(report, color)
    if fmt == "json":
        return format_json(report)
    if fmt == "github":
        return format_github(report)
    if fmt == "sarif":
        if rules is None:
            from migrate.rules import RULES

            rules = RULES
        return format_sarif(report, rules)
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


def rules_text(rules: dict) -> str:
    lines = []
    for code in sorted(rules):
        info = rules[code]
        mark = "fixable" if info.fixable else "report only"
        lines.append(f"{code}  {info.name:<28} {mark:<12} {info.summary}")
    return "\n".join(lines) + "\n"


def rules_json(rules: dict) -> str:
    return json.dumps([
        {"code": code, "name": rules[code].name, "summary": rules[code].summary,
         "fixable": bool(rules[code].fixable), "doc": rules[code].doc}
        for code in sorted(rules)
    ], indent=2) + "\n"
