"""drift-monitor: Kafka-native, event-time, Prometheus-first drift monitoring for ML models.

The public Python API::

    from drift_monitor import build_baseline, save_baseline, load_baseline, evaluate_frame

Everything else is internal and may change between releases.
"""

__version__ = "0.1.0"

from drift_monitor.baseline import (
    Baseline,
    build_baseline,
    load_baseline,
    save_baseline,
)

__all__ = ["Baseline", "__version__", "build_baseline", "load_baseline", "save_baseline"]
