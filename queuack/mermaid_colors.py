"""The queuack 0.1 module path of MermaidColorScheme (defined in mermaid.py)."""

from .mermaid import MermaidColorScheme

__all__ = ["MermaidColorScheme"]
