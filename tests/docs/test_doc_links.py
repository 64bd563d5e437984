"""Relative links in README.md and docs/*.md point at files that exist (and headings that exist)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")
FENCED = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCED.sub("", path.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


def links(path: Path) -> list[str]:
    text = FENCED.sub("", path.read_text(encoding="utf-8"))
    return [m.group("target") for m in LINK.finditer(text)
            if not re.match(r"[a-z]+:", m.group("target"))]


CASES = [(doc, target) for doc in DOCS if doc.exists() for target in links(doc)]


@pytest.mark.parametrize(("doc", "target"), CASES, ids=[f"{d.name}->{t}" for d, t in CASES])
def test_relative_link_resolves(doc, target):
    file, _, anchor = target.partition("#")
    destination = (doc.parent / file).resolve() if file else doc
    assert destination.exists(), f"{doc.relative_to(ROOT)} links to {target}, which does not exist"
    if anchor and destination.suffix == ".md":
        assert anchor in anchors(destination), f"{doc.relative_to(ROOT)} links to {target}: no such heading"
