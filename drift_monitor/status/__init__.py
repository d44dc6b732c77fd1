"""What the process shows about itself: counters, the latest verdicts, health and sink
state, written by the consume loop and read by /metrics, /status, /readyz and /healthz.

Below both the pipeline (which writes it) and the sinks and HTTP server (which read it),
so neither reaches into the other.
"""

from drift_monitor.status.state import BaselineInfo, MonitorState, StateSnapshot

__all__ = ["BaselineInfo", "MonitorState", "StateSnapshot"]
