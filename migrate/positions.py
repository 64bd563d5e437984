"""Line and column of the few LibCST nodes that are reported, without PositionProvider.

PositionProvider gives every node of a module its position by generating the module's code with
position tracking: about twice the cost of parsing it, for the handful of nodes a finding names.
CPython's own parser (``ast``, about a tenth of LibCST's parse) already knows where every call and
every ``def`` starts. So a reported node is matched to its ``ast`` twin by what it is:

* a call by its callee (``q.get_result``), the shape of its arguments (keywords, stars and the
  names passed) and, when the caller knows it, the module-level function or class around it;
* the name of a ``def`` or ``class`` by its qualified name (``Newsletter.personalize``).

The ast walk is lazy too: only the module-level statements a hint names are indexed.
Only a twin that is unique counts. A node with no unique twin, or of another kind, gets the exact
answer: PositionProvider over the file, computed once per file and only then. Both sides agree on
columns: ``ast`` counts UTF-8 bytes, and they are turned into characters as LibCST counts them.
"""

from __future__ import annotations

import ast
import functools
import re

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from migrate.rules._edit import dotted

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_DEF_NAME = re.compile(r"(?:async\s+)?(?:def|class)\s+")

Key = tuple


@functools.lru_cache(maxsize=4)
def parse_ast(source: str) -> ast.Module | None:
    """CPython's tree of `source` (None where CPython does not parse it), shared by the passes
    that ask for it about the same file."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


class Positions:
    """Positions of the nodes of one parsed module, computed when first asked for."""

    def __init__(self, source: str, module: cst.Module):
        self.source = source
        self.module = module
        self._groups: dict[str, list[ast.stmt]] | None = None  # module-level statements by name
        self._done: set[str] = set()
        self._calls: dict[Key, list[tuple[int, int]]] = {}
        self._defs: dict[str, list[tuple[int, int]]] = {}
        self._lines: list[str] | None = None
        self._exact = None
        self._hints: dict[int, tuple] = {}

    # -- what the caller knows about a node ---------------------------------------------------
    def def_name(self, name: cst.Name, qualname: str) -> None:
        """`name` is the name of the def or class whose qualified name is `qualname`."""
        self._hints[id(name)] = ("def", qualname)

    def inside(self, call: cst.Call, top_level: str | None) -> None:
        """`call` sits in the module-level function or class `top_level` (None: at module level)."""
        self._hints[id(call)] = ("in", top_level or "")

    # -- the answer ----------------------------------------------------------------------------
    def start(self, node: cst.CSTNode) -> tuple[int, int]:
        """(1-based line, 0-based column in characters) where LibCST's PositionProvider puts the
        start of `node`."""
        found = self._from_ast(node)
        if found is not None:
            return found
        if self._exact is None:
            self._exact = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(
                PositionProvider)
        pos = self._exact[node].start
        return pos.line, pos.column

    def _from_ast(self, node: cst.CSTNode) -> tuple[int, int] | None:
        hint = self._hints.get(id(node))
        if isinstance(node, cst.Name) and hint and hint[0] == "def":
            if not self._walked(hint[1].partition(".")[0]):
                return None
            places = self._defs.get(hint[1], [])
            return places[0] if len(places) == 1 else None
        if not isinstance(node, cst.Call):
            return None
        shape = _cst_call_shape(node)
        places = None
        if hint and hint[0] == "in":
            if not self._walked(hint[1]):
                return None
            places = self._calls.get(("in", hint[1], *shape))
        if places is None:
            if not self._walked(None):
                return None
            places = self._calls.get(("any", *shape), [])
        return places[0] if len(places) == 1 else None

    def _walked(self, top_name: str | None) -> bool:
        """Index the calls and defs under the module-level def or class `top_name` ("" for the
        other statements, None for all) by their ast twins, once; False if ast cannot."""
        if self._groups is None:
            self._groups = {}
            tree = parse_ast(self.source)
            self._lines = _LINE.findall(self.source) if tree is not None else []
            for top in tree.body if tree is not None else ():
                name = top.name if isinstance(
                    top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else ""
                self._groups.setdefault(name, []).append(top)
        if not self._lines:
            return False
        for name in list(self._groups) if top_name is None else [top_name]:
            if name not in self._done:
                self._done.add(name)
                for top in self._groups.get(name, ()):
                    self._walk(top, name, "")
        return True

    def _walk(self, node: ast.AST, top_name: str, prefix: str) -> None:
        stack = [(node, prefix)]
        while stack:
            item, scope = stack.pop()
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = f"{scope}.{item.name}" if scope else item.name
                # None (a name that is hard to place) still counts, so as not to pick another
                self._defs.setdefault(qualname, []).append(self._def_name_place(item))
                scope = qualname
            elif isinstance(item, ast.Call):
                shape = _ast_call_shape(item)
                place = self._place(item.lineno, item.col_offset)
                self._calls.setdefault(("in", top_name, *shape), []).append(place)
                self._calls.setdefault(("any", *shape), []).append(place)
            stack.extend((child, scope) for child in ast.iter_child_nodes(item))

    def _line(self, line: int) -> str:
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def _place(self, line: int, byte_col: int) -> tuple[int, int]:
        """(line, column in characters) for ast's column in UTF-8 bytes."""
        return line, len(self._line(line).encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def _def_name_place(self, node) -> tuple[int, int] | None:
        line = self._line(node.lineno)
        m = _DEF_NAME.match(line, self._place(node.lineno, node.col_offset)[1])
        if m is None or not line.startswith(node.name, m.end()):
            return None  # `def` and its name on different lines: ask PositionProvider
        return node.lineno, m.end()


def _ast_dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _ast_dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _cst_call_shape(call: cst.Call) -> Key:
    callee = dotted(call.func)
    args = sorted(
        (a.keyword.value if a.keyword is not None else "", a.star, dotted(a.value) or "")
        for a in call.args)
    return (callee or "?", tuple(args))


def _ast_call_shape(call: ast.Call) -> Key:
    callee = _ast_dotted(call.func)
    args = []
    for a in call.args:
        if isinstance(a, ast.Starred):
            args.append(("", "*", _ast_dotted(a.value) or ""))
        else:
            args.append(("", "", _ast_dotted(a) or ""))
    for k in call.keywords:
        args.append((k.arg or "", "" if k.arg else "**", _ast_dotted(k.value) or ""))
    return (callee or "?", tuple(sorted(args)))
