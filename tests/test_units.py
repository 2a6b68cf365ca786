"""Area normalisation of territorial figures (SPEC §1: 1 sq mi = 2.589988 km²)."""

from __future__ import annotations

import math

import pytest

from summarizer.units import SQ_MI_TO_KM2, to_km2


def test_factor_is_the_spec_value() -> None:
    assert SQ_MI_TO_KM2 == 2.589988


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (1.0, "sq_mi", 2.59),
        (100.0, "sq_mi", 258.999),
        (4_600.0, "sq_mi", 11_913.945),
        (0.0, "sq_mi", 0.0),
        (1_500.0, "km2", 1_500.0),
        (12.3456, "km2", 12.346),
    ],
)
def test_areas_convert_to_km2(value: float, unit: str, expected: float) -> None:
    assert to_km2(value, unit) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (19.0, "percent"),
        (3.0, "count"),
        (5.0, None),
        (None, "km2"),
        (None, None),
        (5.0, "acres"),
        (math.nan, "km2"),
        (math.inf, "sq_mi"),
    ],
)
def test_non_areas_and_missing_values_give_none(value: float | None, unit: str | None) -> None:
    assert to_km2(value, unit) is None
