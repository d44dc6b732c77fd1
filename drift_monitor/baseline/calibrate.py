"""Calibrating a baseline: the null tables of every column (see stats/calibration.py).

Computed at ``baseline build`` and stored in the baseline file; a file built before
calibration existed is calibrated when it is loaded (same seed, same numbers: the tables
depend only on the baseline's content).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from drift_monitor.baseline.model import Baseline, CategoricalProfile, NumericProfile
from drift_monitor.stats.calibration import (
    Calibration,
    NullTable,
    fraction_nulls,
    wasserstein_null,
)


def calibrate(baseline: Baseline, seed: int | None = None) -> Calibration:
    """The null tables of ``baseline``'s columns (PSI, Jensen–Shannon, Wasserstein).

    ``seed`` defaults to the baseline's build seed (0 when absent). Columns without a
    profile get no table (they are never scored). Deterministic.
    """
    s = int(baseline.build.get("seed", 0)) if seed is None else seed
    columns: dict[str, dict[str, NullTable]] = {}
    for c in baseline.columns:
        p = c.profile
        if isinstance(p, NumericProfile) and p.reference_sample.shape[0] > 0:
            present = c.rows * (1.0 - c.missing_ratio)
            tables = fraction_nulls(p.expected_fractions, present, c.name, s)
            std = p.std if np.isfinite(p.std) else 0.0
            tables["wasserstein"] = wasserstein_null(p.reference_sample, std, c.name, s)
            columns[c.name] = tables
        elif isinstance(p, CategoricalProfile) and p.categories:
            # Scored over the baseline categories plus an __unseen__ cell of fraction 0.
            fractions = np.append(p.fractions, 0.0)
            columns[c.name] = fraction_nulls(fractions, float(sum(p.counts)), c.name, s)
    return Calibration(columns, s)


def with_calibration(baseline: Baseline, calibration: Calibration | None) -> Baseline:
    """A copy of ``baseline`` carrying ``calibration`` (checksum unchanged: the caller
    saves or has just loaded the file that holds it)."""
    return dataclasses.replace(baseline, calibration=calibration, _prepared={})
