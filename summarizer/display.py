"""How a record's values read to people: the terminal, Markdown and the HTML reports show them alike."""

from __future__ import annotations

from typing import Any


def value_text(value: Any) -> str:
    """A field's value as text: "—" for none, lists joined with commas, floats without trailing zeros."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
