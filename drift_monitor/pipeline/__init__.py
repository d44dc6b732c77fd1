"""The processing pipeline shared by the daemon, the demo and the tests: records ->
decode -> route by model -> windows -> evaluation, handing every evaluated window to
the hooks the composition root wires (the sinks). It imports no sink."""

from drift_monitor.pipeline.baselines import BaselineRegistry, LoadedBaseline
from drift_monitor.pipeline.core import Pipeline
from drift_monitor.pipeline.ratelimit import RateLimiter

__all__ = ["BaselineRegistry", "LoadedBaseline", "Pipeline", "RateLimiter"]
