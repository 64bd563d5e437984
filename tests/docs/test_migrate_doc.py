"""docs/MIGRATE.md embeds `migrate rules --format markdown` between two markers: it must never drift.

To refresh it after a rule changed:  .venv/bin/python tests/docs/test_migrate_doc.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "MIGRATE.md"
BEGIN = "<!-- BEGIN GENERATED: migrate rules --format markdown -->\n"
END = "<!-- END GENERATED: migrate rules --format markdown -->"
SECTION = re.compile(re.escape(BEGIN) + r"(.*?)" + re.escape(END), re.S)


def generated() -> str:
    done = subprocess.run([sys.executable, "-m", "migrate", "rules", "--format", "markdown"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout if done.stdout.endswith("\n") else done.stdout + "\n"


def embedded(text: str) -> str:
    match = SECTION.search(text)
    assert match, f"{DOC} lost its markers {BEGIN.strip()} ... {END}"
    return match.group(1)


def test_the_rule_reference_matches_the_rules():
    assert embedded(DOC.read_text(encoding="utf-8")) == generated(), (
        "docs/MIGRATE.md is out of date with the rules: run  .venv/bin/python tests/docs/test_migrate_doc.py"
    )


def test_every_rule_has_its_section():
    listed = subprocess.run([sys.executable, "-m", "migrate", "rules"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    codes = [line.split()[0] for line in listed.splitlines() if line.strip()]
    text = embedded(DOC.read_text(encoding="utf-8"))
    assert codes and all(f"## {code} " in text for code in codes)


def update() -> None:
    text = DOC.read_text(encoding="utf-8")
    new = SECTION.sub(lambda _: BEGIN + generated() + END, text, count=1)
    DOC.write_text(new, encoding="utf-8")
    print("up to date" if new == text else f"updated {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    update()
