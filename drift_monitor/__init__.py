"""drift-monitor: Kafka-native, event-time, Prometheus-first drift monitoring for ML models.

The public Python API::

    from drift_monitor import build_baseline, save_baseline, load_baseline, evaluate_frame

    baseline = build_baseline(training_df, "fraud", version="v7", prediction=["score"])
    result = evaluate_frame(production_df, baseline)   # a typed WindowResult
    result.status, [c.name for c in result.drifted]

``evaluate_frame`` is the Python twin of ``drift-monitor check``. Everything else is
internal and may change between releases.
"""

__version__ = "0.1.0"

from drift_monitor.baseline import (
    Baseline,
    build_baseline,
    load_baseline,
    save_baseline,
)
from drift_monitor.evaluation import DetectionSettings, Status, WindowResult, evaluate_frame

__all__ = [
    "Baseline",
    "DetectionSettings",
    "Status",
    "WindowResult",
    "__version__",
    "build_baseline",
    "evaluate_frame",
    "load_baseline",
    "save_baseline",
]
