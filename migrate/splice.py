"""The new text of a rewritten module: only the changed top-level statements are printed.

A rewrite rebuilds only the nodes on the way to what it changes; every other node, top-level
statements included, stays the same object. So the new source is the old source with each run of
changed statements replaced by their printed code: generating code for the whole module twice
(before and after, to line the two up) costs about half a parse, and most statements of a file
did not change.

To stay byte exact, each replaced run is first printed as it was before the rewrite and compared
with the source at the place CPython's ``ast`` gives for it: a statement that LibCST does not print
back exactly (a space lost before a colon) or a place that does not line up makes ``splice``
return None, and the caller falls back to printing the whole module.
"""

from __future__ import annotations

import contextlib
import difflib
import re

import libcst as cst
from libcst._nodes.internal import CodegenState

from migrate.positions import parse_ast

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_NO_POSITIONS = contextlib.nullcontext()


class _PrintState(CodegenState):
    """LibCST's code generation without its position bookkeeping: every node it prints enters
    ``record_syntactic_position``, a generator-based context manager that only ``yield``s unless
    positions are being computed; a shared no-op context instead takes about a third off."""

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _NO_POSITIONS


def code(module: cst.Module, node: cst.CSTNode) -> str:
    """What ``module.code_for_node(node)`` returns, printed faster."""
    state = _PrintState(default_indent=module.default_indent, default_newline=module.default_newline)
    node._codegen(state)
    return "".join(state.tokens)


def splice(source: str, old: cst.Module, new: cst.Module) -> str | None:
    """`source` (which `old` was parsed from) with `new`'s changed top-level statements."""
    if new.header is not old.header or new.footer is not old.footer:
        return None
    runs = [op for op in difflib.SequenceMatcher(
        a=[id(s) for s in old.body], b=[id(s) for s in new.body], autojunk=False).get_opcodes()
        if op[0] != "equal"]
    if not runs:
        return source
    starts = _statement_starts(source, old)
    if starts is None:
        return None
    out: list[str] = []
    done = 0
    for _tag, i0, i1, j0, j1 in runs:
        begin, end = starts[i0], starts[i1]
        if source[begin:end] != "".join(code(old, s) for s in old.body[i0:i1]):
            return None
        out.append(source[done:begin])
        out.append("".join(code(new, s) for s in new.body[j0:j1]))
        done = end
    out.append(source[done:])
    return "".join(out)


def _statement_starts(source: str, module: cst.Module) -> list[int] | None:
    """Offsets in `source` where each top-level statement's code starts (its leading comments
    and blank lines included), and one more: where the footer starts. None if ast disagrees."""
    tree = parse_ast(source)
    if tree is None:
        return None
    lines = _LINE.findall(source)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    starts = []
    k = 0  # the next ast statement
    for stmt in module.body:
        if k >= len(tree.body):
            return None
        first = tree.body[k]
        line = min([first.lineno, *(d.lineno for d in getattr(first, "decorator_list", ()))])
        leading = len(stmt.leading_lines)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.decorators:
            leading += len(stmt.decorators[0].leading_lines)
        index = line - 1 - leading
        if not 0 <= index < len(offsets):
            return None
        starts.append(offsets[index])
        k += len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
    if k != len(tree.body):
        return None
    footer = "".join(code(module, line) for line in module.footer)
    starts.append(len(source) - len(footer))
    return starts
