"""Markdown tables and the number formats the benchmark prints."""

from __future__ import annotations

import math


def table(header: list[str], rows: list[list], align: list[str] | None = None) -> str:
    """A Markdown table; `align` holds "l" or "r" per column (default: first
    column left, the others right)."""
    align = align or ["l"] + ["r"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ok(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def seconds(value, digits: int = 3) -> str:
    if not ok(value):
        return "–"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def number(value, fmt: str = "{:.1f}") -> str:
    return fmt.format(value) if ok(value) else "–"


def ratio(value) -> str:
    return f"{value:.2f}×" if ok(value) else "–"


def percent(value) -> str:
    return f"{100 * value:.0f}%" if ok(value) else "–"


def check(value, target, at_least: bool = True) -> str:
    """ "yes"/"no" against a target, "–" when the figure is missing."""
    if not ok(value):
        return "–"
    return "yes" if (value >= target if at_least else value <= target) else "no"
