"""DAG pictures as Mermaid flowcharts, coloured by status through a MermaidColorScheme.

A node is labelled "name (status)" with the job's own status (pending, delayed, claimed, done,
failed, skipped); its colour comes from the scheme, whose names are queuack 0.1's (a claimed job
is drawn as "running", a delayed one as "pending"). A sub-DAG node that has run is drawn as a
Mermaid subgraph holding its own DAG.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

# the job statuses, as the scheme's colour names
_SCHEME_NAME = {"pending": "pending", "delayed": "pending", "claimed": "running", "done": "done",
                "failed": "failed", "skipped": "skipped"}
_STATUS_COLOURS = ("pending", "ready", "running", "done", "failed", "skipped")


@dataclass
class MermaidColorScheme:
    """Fill colours (any CSS colour) per status, and optional ones for streaming and sub-DAG nodes.

    dag.export_mermaid(color_scheme=MermaidColorScheme.dark_mode()), or build your own:
    MermaidColorScheme(done="#2e7d32", failed="#c62828").
    """

    pending: str = "#eeeeee"
    ready: str = "#fff8c4"
    running: str = "#fff3b0"
    done: str = "#c8f7c5"
    failed: str = "#ffc9c9"
    skipped: str = "#f5f5f5"
    streaming: str | None = None
    subdag: str | None = None
    stroke_width: int = 1
    stroke_color: str = "#666666"
    text_color: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "stroke_width":
                if not isinstance(value, int) or value < 0:
                    raise ValueError(f"stroke_width must be an int >= 0, not {value!r}")
            elif value is not None and (not isinstance(value, str) or not value or any(c in value for c in ",;\n")):
                raise ValueError(f"{f.name} must be a CSS colour such as '#90ee90' or 'green', not {value!r}")

    def _style(self, fill: str, extra: str = "") -> str:
        color = f",color:{self.text_color}" if self.text_color else ""
        return f"fill:{fill},stroke:{self.stroke_color},stroke-width:{self.stroke_width}px{color}{extra}"

    def get_style_definitions(self) -> list[str]:
        """The classDef lines of every colour this scheme defines."""
        lines = [f"    classDef {name} {self._style(getattr(self, name))}" for name in _STATUS_COLOURS]
        if self.streaming:
            lines.append(f"    classDef streaming {self._style(self.streaming, ',stroke-dasharray:5 5')}")
        if self.subdag:
            lines.append(f"    classDef subdag {self._style(self.subdag)}")
        return lines

    def class_name(self, status: str) -> str | None:
        """The scheme's colour name for a job status (or one of the scheme's own names)."""
        status = str(status).lower()
        return _SCHEME_NAME.get(status, status if status in _STATUS_COLOURS else None)

    def get_status_class(self, status: str) -> str:
        """Mermaid's inline class syntax for a status (":::done"), or "" for an unknown one."""
        name = self.class_name(status)
        return f":::{name}" if name else ""

    def get_task_type_class(self, task_type: str) -> str:
        """":::streaming" or ":::subdag" when the scheme colours that kind of task, else ""."""
        return f":::{task_type}" if task_type in ("streaming", "subdag") and getattr(self, task_type) else ""

    # -- presets ------------------------------------------------------------------------------------
    @classmethod
    def default(cls) -> "MermaidColorScheme":
        return cls()

    @classmethod
    def blue_professional(cls) -> "MermaidColorScheme":
        return cls(pending="#e8eef7", ready="#9cc3e6", running="#4a90d9", done="#5cb85c", failed="#d9534f",
                   skipped="#b0b7bf", streaming="#2a6db0", subdag="#1c3f6e", stroke_color="#1c3f6e")

    @classmethod
    def dark_mode(cls) -> "MermaidColorScheme":
        return cls(pending="#3a3a3a", ready="#8a6d1f", running="#1f5f8b", done="#2e6b30", failed="#8b2626",
                   skipped="#555555", streaming="#4b3b7a", subdag="#20485e", stroke_color="#bbbbbb",
                   text_color="#f0f0f0")

    @classmethod
    def pastel(cls) -> "MermaidColorScheme":
        return cls(pending="#f4f1ee", ready="#fdf3c8", running="#cde7f7", done="#d4f0d0", failed="#f8d3d8",
                   skipped="#e6e3ea", streaming="#e3d7f5", subdag="#d7eef0", stroke_color="#9a9a9a")

    @classmethod
    def high_contrast(cls) -> "MermaidColorScheme":
        return cls(pending="#ffffff", ready="#ffff00", running="#00bfff", done="#00ff00", failed="#ff0000",
                   skipped="#808080", streaming="#ff00ff", subdag="#00ffff", stroke_color="#000000",
                   stroke_width=3, text_color="#000000")

    @classmethod
    def grayscale(cls) -> "MermaidColorScheme":
        return cls(pending="#f7f7f7", ready="#dddddd", running="#bbbbbb", done="#999999", failed="#444444",
                   skipped="#e5e5e5", streaming="#cccccc", subdag="#777777", stroke_color="#222222")


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")


def render(nodes: list[tuple[str, str]], edges: list[tuple[str, str]], direction: str = "TD",
           scheme: MermaidColorScheme | None = None, subgraphs: dict | None = None,
           kinds: dict[str, str] | None = None) -> str:
    """nodes: (name, status) in display order; edges: (parent name, child name).

    subgraphs: {name: (nodes, edges, subgraphs, kinds)} draws that node as a box holding its own
    graph (nested the same way). kinds: {name: "streaming" | "subdag"} for the scheme's task colours.
    Node ids are n0, n1, ... over the whole picture, so that names that would sanitise to the
    same text, or that repeat inside sub-DAGs, stay distinct.
    """
    scheme = scheme or MermaidColorScheme.default()
    counter = itertools.count()
    lines = [f"graph {direction}"]
    classes: list[tuple[str, str]] = []

    def draw(nodes, edges, subgraphs, kinds, indent: str) -> None:
        ids = {name: f"n{next(counter)}" for name, _ in nodes}
        for name, status in nodes:
            label = f'["{_label(name)} ({status})"]'
            if name in subgraphs:
                lines.append(f"{indent}subgraph {ids[name]}{label}")
                draw(*subgraphs[name], indent + "    ")
                lines.append(f"{indent}end")
            else:
                lines.append(f"{indent}{ids[name]}{label}")
            colour = scheme.class_name(status)
            kind = kinds.get(name)
            if kind and getattr(scheme, kind, None) and status != "failed":
                colour = kind  # a task-type colour, where the scheme has one; failures stay red
            if colour:
                classes.append((ids[name], colour))
        for parent, child in edges:
            lines.append(f"{indent}{ids[parent]} --> {ids[child]}")

    draw(nodes, edges, subgraphs or {}, kinds or {}, "    ")
    used = {colour for _, colour in classes}
    lines += [line for line in scheme.get_style_definitions() if line.split()[1] in used]
    lines += [f"    class {node} {colour}" for node, colour in classes]
    return "\n".join(lines) + "\n"
