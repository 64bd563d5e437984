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
    rows: dict[int, int] = {}  # column -> rows taken
    place: dict[str, tuple[int, int]] = {}

    def slot(column: int) -> tuple[int, int]:
        row = rows.get(column, 0)
        rows[column] = row + 1
        return MARGIN + column * (NODE_WIDTH + COLUMN_GAP), MARGIN + row * (NODE_HEIGHT + ROW_GAP)

    boxes = []
    for node in nodes:
        place[node["id"]] = slot(depth_of(node["id"]))
        boxes.append((node, *place[node["id"]]))
    curves = []
    middle = NODE_HEIGHT // 2
    for child, parent in edges:
        if child not in place or parent not in place:
            continue
        (px, py), (cx, cy) = place[parent], place[child]
        # an edge that skips columns passes through a free slot of each column between, below
        # their nodes, instead of across them
        points = [(px + NODE_WIDTH, py + middle)]
        for column in range(depth[parent] + 1, depth[child]):
            x, y = slot(column)
            points += [(x, y + middle), (x + NODE_WIDTH, y + middle)]
        points.append((cx, cy + middle))
        path = f"M{points[0][0]},{points[0][1]}"
        for i in range(1, len(points)):
            (x1, y1), (x2, y2) = points[i - 1], points[i]
            if i % 2 == 0:  # across a free slot
                path += f" L{x2},{y2}"
            else:
                bend = (x1 + x2) / 2
                path += f" C{bend},{y1} {bend},{y2} {x2},{y2}"
        curves.append(path)
    width = MARGIN * 2 + (max(rows, default=0) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + max(rows.values(), default=0) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    return Drawing(width, max(height, NODE_HEIGHT), boxes, curves)
