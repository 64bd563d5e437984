"""The rule registry.

One rule a file (``qm001_*.py``, ...), each a class with a stable ``code``, a kebab-case ``name``, a
one-line ``summary``, ``fixable``, a docstring that explains the rewrite and its limits, and
``VALID`` / ``INVALID`` examples that the test suite runs. A rule reports through ``check(ctx)``
(``migrate.model.Violation`` objects) and a fixable rule brings its part of the rewrite as
``fix_task(node, plan)`` and ``fix_site(call, plan)``; the analysis runs them in code order without
knowing what they do.

Importing this package must not import libcst: ``migrate rules`` and ``migrate explain`` only need
the text, which is read from the rule files with :mod:`ast`. ``load_rule_classes()`` imports the
rule modules themselves when an analysis needs them.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RuleInfo", "RULES", "load_rule_classes", "rules_markdown", "rule_markdown"]

_HERE = Path(__file__).resolve().parent

#: The modules that hold the rules, in code order.
RULE_MODULES = (
    "qm001_manual_parent_read",
    "qm002_wiring_parameters",
    "qm003_unresolvable_wiring",
)


@dataclass(frozen=True)
class RuleInfo:
    code: str
    name: str
    summary: str
    doc: str
    fixable: bool
    module: str  # dotted module path of the rule
    class_name: str = ""


def _read_info(module: str) -> RuleInfo:
    tree = ast.parse((_HERE / f"{module}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        attrs: dict[str, object] = {}
        for stmt in node.body:
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id in ("code", "name", "summary", "fixable")
            ):
                attrs[stmt.targets[0].id] = ast.literal_eval(stmt.value)
        if "code" in attrs:
            return RuleInfo(
                code=str(attrs["code"]),
                name=str(attrs["name"]),
                summary=str(attrs.get("summary", "")),
                doc=ast.get_docstring(node) or "",
                fixable=bool(attrs.get("fixable", False)),
                module=f"{__name__}.{module}",
                class_name=node.name,
            )
    raise LookupError(f"no rule class in {module}")


_RULES: dict[str, RuleInfo] | None = None


def _rules() -> dict[str, RuleInfo]:
    global _RULES
    if _RULES is None:
        infos = [_read_info(m) for m in RULE_MODULES]
        _RULES = {i.code: i for i in sorted(infos, key=lambda i: i.code)}
    return _RULES


def __getattr__(name: str):
    if name == "RULES":
        return _rules()
    raise AttributeError(name)


def load_rule_classes() -> list[type]:
    """The rule classes, in code order (this imports libcst)."""
    out = []
    for info in _rules().values():
        out.append(getattr(importlib.import_module(info.module), info.class_name))
    return out


def lookup(code_or_name: str) -> RuleInfo | None:
    """A rule by code (``QM001``, any case) or by name (``manual-parent-read``)."""
    key = code_or_name.strip()
    for info in _rules().values():
        if info.code == key.upper() or info.name == key.lower():
            return info
    return None


def rule_markdown(info: RuleInfo) -> str:
    fix = "yes" if info.fixable else "no (reported only)"
    return f"## {info.code} `{info.name}`\n\n{info.summary}\n\nFixable: {fix}.\n\n{info.doc.strip()}\n"


def rules_markdown() -> str:
    """Documentation for every rule, as one markdown page."""
    parts = ["# migrate rules\n"]
    parts.append("| Code | Name | Fixable | Summary |\n|---|---|---|---|")
    for info in _rules().values():
        parts.append(f"| {info.code} | `{info.name}` | {'yes' if info.fixable else 'no'} | {info.summary} |")
    parts.append("")
    for info in _rules().values():
        parts.append(rule_markdown(info))
    return "\n".join(parts)
