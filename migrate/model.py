"""The data that crosses the line between the engine (files, output) and the analysis (LibCST).

Nothing here imports libcst: the engine must be able to decide that a file has nothing to do
without paying for that import.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Finding:
    """One reported problem, at a 1-based line and a 1-based column."""

    path: str
    line: int
    col: int
    rule: str
    message: str
    fixable: bool
    hint: str | None = None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "rule": self.rule,
            "message": self.message,
            "fixable": self.fixable,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class Violation:
    """What a rule says about one node of a file; the analysis adds the position (a Finding).

    ``task`` is the plan (an index TaskPlan) whose rewrite fixes a fixable violation: it is fixable
    in the output only when apply would make that rewrite with the selected rules.
    """

    node: object  # a libcst node
    code: str
    message: str
    hint: str | None
    fixable: bool
    task: object = None


@dataclass(frozen=True)
class RuleSelection:
    """Which rule codes are active: `select` (empty: all) minus `ignore`."""

    select: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()

    def enabled(self, code: str) -> bool:
        if self.select and not any(code.startswith(s) for s in self.select):
            return False
        return not any(code.startswith(i) for i in self.ignore)


@dataclass
class FileResult:
    """What the analysis says about one file: its findings and, when a rule changed it, the new text."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    new_source: str | None = None
    error: str | None = None  # the file could not be analysed (syntax error, ...): reported, skipped
