"""Typed access to a baseline column's profile in tests: a column's profile is
``NumericProfile | CategoricalProfile | None``; these narrow it, failing the test with
the column's name when it is of the other kind or absent."""

from __future__ import annotations

from drift_monitor.baseline.model import CategoricalProfile, ColumnBaseline, NumericProfile


def numeric(column: ColumnBaseline) -> NumericProfile:
    """The column's numeric profile (AssertionError when it has none)."""
    profile = column.profile
    assert isinstance(profile, NumericProfile), f"{column.name}: not numeric: {profile!r}"
    return profile


def categorical(column: ColumnBaseline) -> CategoricalProfile:
    """The column's categorical profile (AssertionError when it has none)."""
    profile = column.profile
    assert isinstance(profile, CategoricalProfile), f"{column.name}: not categorical"
    return profile
