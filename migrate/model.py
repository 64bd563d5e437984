"""The data that crosses the line between the engine (files, output) and the analysis (LibCST).

Nothing here imports libcst: the engine must be able to decide that a file has nothing to do
without paying for that import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Callable


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


def module_name(path: str, is_package: Callable[[PurePosixPath], bool]) -> str | None:
    """The dotted name Python imports the file at ``path`` (``/``-separated) by.

    Its stem, then each folder above it for which ``is_package(folder)`` holds, up to the first
    that is not one: on disk a folder with an ``__init__.py`` (``src/app/jobs/etl.py`` is
    ``app.jobs.etl``, a script beside others is its stem); for sources held in memory, every
    folder. None when a part is no identifier (``my-script.py``).
    """
    p = PurePosixPath(path)
    if p.suffix not in (".py", ".pyi"):
        return None
    parts = [] if p.stem == "__init__" else [p.stem]
    folder = p.parent
    while folder.name and folder != folder.parent and is_package(folder):
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts or not all(x.isidentifier() for x in parts):
        return None
    return ".".join(parts)


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
    # the keys of the tasks whose rewrite this file's new text takes part in (the task's own
    # file and the files that enqueue it): such files are written together or not at all
    tasks: frozenset[str] = frozenset()
