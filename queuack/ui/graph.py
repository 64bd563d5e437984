"""Where a DAG run's nodes go on its page: columns by depth (the longest chain of parents before a
node), rows in insertion order within a column; edges as curves from parent to child. Drawn as SVG
by the template, so the page needs no graph library."""

from __future__ import annotations

from dataclasses import dataclass

NODE_WIDTH, NODE_HEIGHT = 180, 48
COLUMN_GAP, ROW_GAP, MARGIN = 70, 18, 12


@dataclass
class Drawing:
    width: int
    height: int
    boxes: list[tuple[dict, int, int]]  # (node, x, y)
    curves: list[str]  # SVG path data, one per edge


def layout(nodes: list[dict], edges: list[tuple[str, str]]) -> Drawing:
    parents: dict[str, list[str]] = {}
    for child, parent in edges:
        parents.setdefault(child, []).append(parent)
    depth: dict[str, int] = {}

    def depth_of(node_id: str, seen: frozenset = frozenset()) -> int:
        if node_id not in depth:
            inside = [p for p in parents.get(node_id, []) if p in known and p not in seen]
            depth[node_id] = 1 + max((depth_of(p, seen | {node_id}) for p in inside), default=-1)
        return depth[node_id]

    known = {n["id"] for n in nodes}
    rows: dict[int, int] = {}
    place: dict[str, tuple[int, int]] = {}
    boxes = []
    for node in nodes:
        column = depth_of(node["id"])
        row = rows.get(column, 0)
        rows[column] = row + 1
        x = MARGIN + column * (NODE_WIDTH + COLUMN_GAP)
        y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
        place[node["id"]] = (x, y)
        boxes.append((node, x, y))
    curves = []
    for child, parent in edges:
        if child in place and parent in place:
            (px, py), (cx, cy) = place[parent], place[child]
            x1, y1, x2, y2 = px + NODE_WIDTH, py + NODE_HEIGHT // 2, cx, cy + NODE_HEIGHT // 2
            middle = (x1 + x2) / 2
            curves.append(f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}")
    width = MARGIN * 2 + (max(rows, default=0) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + max(rows.values(), default=0) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    return Drawing(width, max(height, NODE_HEIGHT), boxes, curves)
