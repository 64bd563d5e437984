"""DAG pictures as Mermaid flowcharts."""

from __future__ import annotations

_STYLES = {
    "pending": "fill:#eeeeee,stroke:#999999",
    "delayed": "fill:#eeeeee,stroke:#999999,stroke-dasharray:4",
    "claimed": "fill:#fff3b0,stroke:#c9a000",
    "done": "fill:#c8f7c5,stroke:#2e8b57",
    "failed": "fill:#ffc9c9,stroke:#c0392b",
    "skipped": "fill:#f0f0f0,stroke:#bbbbbb,color:#888888",
}


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")


def render(nodes: list[tuple[str, str]], edges: list[tuple[str, str]], direction: str = "TD") -> str:
    """nodes: (name, status) in display order; edges: (parent name, child name).

    Node ids are n0, n1, ... so that two names that would sanitise to the same text stay distinct.
    """
    ids = {name: f"n{i}" for i, (name, _) in enumerate(nodes)}
    lines = [f"graph {direction}"]
    for name, status in nodes:
        lines.append(f'    {ids[name]}["{_label(name)} ({status})"]')
    for parent, child in edges:
        lines.append(f"    {ids[parent]} --> {ids[child]}")
    used = sorted({status for _, status in nodes if status in _STYLES})
    for status in used:
        lines.append(f"    classDef {status} {_STYLES[status]}")
    for name, status in nodes:
        if status in _STYLES:
            lines.append(f"    class {ids[name]} {status}")
    return "\n".join(lines) + "\n"
