"""Event-time windows: layout (event -> columns), pane buffers, and the runtime."""

from drift_monitor.windows.layout import ModelLayout
from drift_monitor.windows.store import AddResult, ClosedWindow, ModelWindows

__all__ = ["AddResult", "ClosedWindow", "ModelLayout", "ModelWindows"]
