"""Small LibCST editing helpers shared by the rules: remove and append items of comma-separated
lists (call arguments, parameters, tuple and dict elements) without leaving a dangling comma and
while keeping the layout of what stays: one item a line stays one item a line, comments after the
items that stay stay with them."""

from __future__ import annotations

from typing import Sequence, TypeVar

import libcst as cst

T = TypeVar("T", bound=cst.CSTNode)


# Fields that hold only whitespace, brackets, commas and other tokens: no walk enters them.
_SKIP_FIELDS = frozenset(
    {
        "leading_lines", "lines_after_decorators", "header", "footer", "lpar", "rpar", "lbracket",
        "rbracket", "lbrace", "rbrace", "comma", "semicolon", "equal", "colon", "newline", "dot",
        "relative", "asynchronous", "operator", "default_indent", "default_newline", "encoding",
        "has_trailing_newline", "star", "value_whitespace",
    }
)
_FIELDS: dict[type, tuple[str, ...]] = {}


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


# Every node class: the walks test `type(value) in NODE_TYPES`, because isinstance against
# CSTNode, an ABC, costs a Python-level __instancecheck__ on each of millions of field values.
NODE_TYPES = frozenset(_subclasses(cst.CSTNode))
_HOOKS: dict[tuple[type, type], tuple] = {}


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that can hold statements or expressions, in field order."""
    names = _FIELDS.get(cls)
    if names is None:
        import dataclasses

        names = _FIELDS[cls] = tuple(
            f.name for f in dataclasses.fields(cls)
            if f.name not in _SKIP_FIELDS and not f.name.startswith("whitespace"))
    return names


def hooks(owner: type, cls: type) -> tuple:
    """(visit_<Node>, leave_<Node>) of a visitor or transformer class for a node class; None for
    a hook it does not define (LibCST's own no-op defaults count as not defined)."""
    found = _HOOKS.get((owner, cls))
    if found is None:
        name = cls.__name__
        found = _HOOKS[(owner, cls)] = tuple(
            fn if fn is not None and not fn.__module__.startswith("libcst") else None
            for fn in (getattr(owner, "visit_" + name, None), getattr(owner, "leave_" + name, None)))
    return found


def transform(node: T, transformer: cst.CSTTransformer) -> T:
    """``node.visit(transformer)`` for the visit_<Node> and leave_<Node> hooks, at a fraction of
    the cost: LibCST's visit rebuilds every node on the way, this rebuilds only the nodes whose
    children or hooks changed something, and every other node stays the same object (which also
    lets ``migrate.splice`` print only what changed). Children are visited in field order, which is
    source order except where a node lists them otherwise (a def's decorators come after its
    body); fields of only whitespace and tokens (``_SKIP_FIELDS``) are not entered, so hooks on
    ``EmptyLine``, ``Comma`` and the like do not run; a leave_ hook may return
    ``FlattenSentinel`` or ``RemovalSentinel`` inside a list."""
    cls = type(node)
    visit, leave = hooks(type(transformer), cls)
    updated = node
    if visit is None or visit(transformer, node) is not False:
        changes = {}
        for name in child_fields(cls):
            value = getattr(node, name)
            if type(value) in NODE_TYPES:
                new = transform(value, transformer)
                if new is not value:
                    changes[name] = new
            elif type(value) in (list, tuple) and value and type(value[0]) in NODE_TYPES:
                items, changed = [], False
                for item in value:
                    new = transform(item, transformer)
                    if new is item:
                        items.append(item)
                        continue
                    changed = True
                    if isinstance(new, cst.FlattenSentinel):
                        items.extend(new.nodes)
                    elif not isinstance(new, cst.RemovalSentinel):
                        items.append(new)
                if changed:
                    changes[name] = type(value)(items)
        if changes:
            updated = node.with_changes(**changes)
    return updated if leave is None else leave(transformer, node, updated)


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a name or a chain of attributes, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def string_literal(value: str, quote: str = '"') -> cst.SimpleString:
    escaped = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return cst.SimpleString(f"{quote}{escaped}{quote}")


def _broken(comma) -> cst.ParenthesizedWhitespace | None:
    """The whitespace after ``comma`` when it ends a line, else None."""
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        return comma.whitespace_after
    return None


def remove_items(items: Sequence[T], drop: set[int]) -> list[T]:
    """Drop the items at ``drop``; the new last item takes over the old last item's trailing comma.

    On a multi-line list the new last item keeps its own comment and takes the indentation of the
    closing bracket from the removed one.
    """
    kept = [it for i, it in enumerate(items) if i not in drop]
    if kept and items and (len(items) - 1) in drop:
        old = items[-1].comma
        mine = kept[-1].comma
        old_ws, mine_ws = _broken(old), _broken(mine)
        if old_ws is not None and mine_ws is not None:
            comma = mine.with_changes(
                whitespace_after=mine_ws.with_changes(indent=old_ws.indent, last_line=old_ws.last_line)
            )
        else:
            comma = old
        kept[-1] = kept[-1].with_changes(comma=comma)
    return kept


def append_item(items: Sequence[T], new: T) -> list[T]:
    """Append ``new`` after the last item, in the list's own layout."""
    items = list(items)
    if not items:
        return [new]
    last = items[-1]
    last_ws = _broken(last.comma)
    if last_ws is not None:
        # one item a line with a trailing comma: the new item gets its own line
        between = _broken(items[-2].comma) if len(items) > 1 else None
        if between is None:
            between = last_ws.with_changes(last_line=cst.SimpleWhitespace(last_ws.last_line.value + "    "))
        last_comma = last.comma.with_changes(
            whitespace_after=last_ws.with_changes(indent=between.indent, last_line=between.last_line, empty_lines=[])
        )
        new_comma = last.comma.with_changes(
            whitespace_after=last_ws.with_changes(first_line=cst.TrailingWhitespace(newline=last_ws.first_line.newline))
        )
        return [*items[:-1], last.with_changes(comma=last_comma), new.with_changes(comma=new_comma)]
    if isinstance(last.comma, cst.Comma):
        # "(a,)" on one line: the trailing comma only marked a 1-tuple
        spaced = last.comma.with_changes(whitespace_after=cst.SimpleWhitespace(" "))
        return [*items[:-1], last.with_changes(comma=spaced), new]
    return [*items, new]


def insert_item(items: Sequence[T], index: int, new: T) -> list[T]:
    """Insert ``new`` before ``items[index]`` (or append), separated like its neighbours."""
    items = list(items)
    if index >= len(items):
        return append_item(items, new)
    if index > 0 and isinstance(items[index - 1].comma, cst.Comma):
        comma = items[index - 1].comma
    elif _broken(items[index].comma) is not None and index + 1 < len(items):
        comma = items[index].comma
    else:
        comma = cst.MaybeSentinel.DEFAULT
    return [*items[:index], new.with_changes(comma=comma), *items[index:]]
