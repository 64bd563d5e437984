"""Small LibCST editing helpers shared by the rules: remove and append items of comma-separated
lists (call arguments, parameters, tuple and dict elements) without leaving a dangling comma and
while keeping the layout of what stays: one item a line stays one item a line, comments after the
items that stay stay with them."""

from __future__ import annotations

from typing import Sequence, TypeVar

import libcst as cst

T = TypeVar("T", bound=cst.CSTNode)


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
