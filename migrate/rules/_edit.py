"""Small LibCST editing helpers shared by the rules: remove and append list items without
leaving a dangling comma and while keeping the formatting of what stays."""

from __future__ import annotations

from typing import Sequence, TypeVar

import libcst as cst

T = TypeVar("T", bound=cst.CSTNode)


def string_literal(value: str, quote: str = '"') -> cst.SimpleString:
    escaped = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return cst.SimpleString(f"{quote}{escaped}{quote}")


def remove_items(items: Sequence[T], drop: set[int]) -> list[T]:
    """Drop the items at ``drop``; the new last item takes the old last item's comma."""
    kept = [it for i, it in enumerate(items) if i not in drop]
    if kept and items and (len(items) - 1) in drop:
        kept[-1] = kept[-1].with_changes(comma=items[-1].comma)
    return kept


def append_item(items: Sequence[T], new: T) -> list[T]:
    """Append ``new``; it takes the old last item's comma (a trailing comma stays trailing)."""
    items = list(items)
    if not items:
        return [new]
    last = items[-1]
    if isinstance(last.comma, cst.Comma):
        after = last.comma.whitespace_after
        if isinstance(after, cst.SimpleWhitespace) and after.value == "":
            # "(a,)" on one line: the trailing comma only marked a 1-tuple
            spaced = last.comma.with_changes(whitespace_after=cst.SimpleWhitespace(" "))
            return [*items[:-1], last.with_changes(comma=spaced), new]
        return [*items, new.with_changes(comma=last.comma)]
    return [*items[:-1], last.with_changes(comma=cst.MaybeSentinel.DEFAULT), new]
