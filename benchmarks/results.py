"""Collected measurements: one row per (area, figure, subject), a value per round."""

from __future__ import annotations

import statistics
import traceback
from dataclasses import dataclass, field


@dataclass
class Row:
    area: str
    figure: str
    subject: str
    unit: str = ""
    higher_is_better: bool = True
    n: int | None = None
    by_round: dict[int, float] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def values(self) -> list[float]:
        return [self.by_round[k] for k in sorted(self.by_round)]

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.by_round else None

    def as_dict(self) -> dict:
        vals = self.values
        return {
            "area": self.area, "figure": self.figure, "subject": self.subject,
            "unit": self.unit, "higher_is_better": self.higher_is_better, "n": self.n,
            "median": self.median, "min": min(vals) if vals else None,
            "max": max(vals) if vals else None, "runs": vals, "extra": self.extra,
            "error": self.error,
        }


class Results:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Row] = {}
        self.notes: dict[str, dict] = {}

    def row(self, area: str, figure: str, subject: str) -> Row:
        key = (area, figure, subject)
        if key not in self.rows:
            self.rows[key] = Row(area, figure, subject)
        return self.rows[key]

    def get(self, area: str, figure: str, subject: str) -> Row | None:
        return self.rows.get((area, figure, subject))

    def add(self, area, figure, subject, rnd, value, *, n=None, unit="", higher_is_better=True,
            extra=None) -> None:
        row = self.row(area, figure, subject)
        row.unit, row.higher_is_better, row.n = unit, higher_is_better, n
        if value is not None:
            row.by_round[rnd] = value
        if extra:
            for k, v in extra.items():
                row.extra.setdefault(k, []).append(v)

    def error(self, area, figure, subject, exc: BaseException) -> None:
        row = self.row(area, figure, subject)
        text = str(exc).strip() or "".join(traceback.format_exception_only(type(exc), exc)).strip()
        row.error = text.splitlines()[-1][:300] if text else type(exc).__name__
        row.extra.setdefault("error_detail", []).append(text[-3000:])

    def note(self, area: str, key: str, value) -> None:
        self.notes.setdefault(area, {})[key] = value


def round_ratio(a: Row | None, b_rows: list[Row | None], combine=max) -> tuple[float | None, int]:
    """Median over rounds of a / combine(b's of the same round); and how many rounds.

    Ratios are taken within a round (the subjects ran back to back), then the
    median of those is reported, which is what keeps them stable on a noisy box.
    """
    if a is None or not a.by_round:
        return None, 0
    ratios = []
    for rnd, av in a.by_round.items():
        others = [b.by_round[rnd] for b in b_rows if b is not None and rnd in b.by_round]
        if not others:
            continue
        bv = combine(others)
        if bv:
            ratios.append(av / bv)
    if not ratios:
        return None, 0
    return statistics.median(ratios), len(ratios)
