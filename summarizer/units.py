"""Unit conversion for territorial figures (SPEC §1): ``value_km2`` is derived by code, never by the model.

Articles quote areas in square kilometres or square miles; converting every area to km² lets
figures from different sources be compared and scored (within 2 % after normalisation, SPEC §3).
Percentages and counts have no area equivalent and convert to ``None``.
"""

from __future__ import annotations

import math

SQ_MI_TO_KM2 = 2.589988
"""Square kilometres in one square mile (the factor SPEC §1 fixes)."""

_FACTORS = {"km2": 1.0, "sq_mi": SQ_MI_TO_KM2}


def to_km2(value: float | None, unit: str | None) -> float | None:
    """``value`` in ``unit`` as square kilometres (rounded to 3 decimals); ``None`` if not an area."""
    if value is None or unit is None:
        return None
    factor = _FACTORS.get(unit)
    if factor is None or not math.isfinite(value):
        return None
    return round(value * factor, 3)
