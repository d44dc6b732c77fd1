"""Training baselines: build from a DataFrame, save/load the ``.dmb`` file format."""

from drift_monitor.baseline.build import build_baseline, infer_kind
from drift_monitor.baseline.model import (
    SCHEMA_VERSION,
    Baseline,
    CategoricalProfile,
    ColumnBaseline,
    NumericProfile,
)
from drift_monitor.baseline.store import load_baseline, save_baseline

__all__ = [
    "SCHEMA_VERSION",
    "Baseline",
    "CategoricalProfile",
    "ColumnBaseline",
    "NumericProfile",
    "build_baseline",
    "infer_kind",
    "load_baseline",
    "save_baseline",
]
