"""Event-time windows: layout (event -> columns), pane buffers, and one runtime per
window type behind :class:`WindowRuntime`."""

from drift_monitor.windows.factory import open_windows
from drift_monitor.windows.layout import ModelLayout
from drift_monitor.windows.runtime import (
    AddResult,
    ClosedWindow,
    Row,
    WindowPreview,
    WindowRuntime,
)

__all__ = [
    "AddResult",
    "ClosedWindow",
    "ModelLayout",
    "Row",
    "WindowPreview",
    "WindowRuntime",
    "open_windows",
]
