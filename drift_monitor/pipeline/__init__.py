"""The processing pipeline shared by the daemon, the demo and the tests."""

from drift_monitor.pipeline.baselines import BaselineRegistry, LoadedBaseline
from drift_monitor.pipeline.core import Pipeline
from drift_monitor.pipeline.incidents import IncidentHandler, incident_body
from drift_monitor.pipeline.ratelimit import RateLimiter
from drift_monitor.pipeline.state import MonitorState, StateSnapshot

__all__ = [
    "BaselineRegistry",
    "IncidentHandler",
    "LoadedBaseline",
    "MonitorState",
    "Pipeline",
    "RateLimiter",
    "StateSnapshot",
    "incident_body",
]
