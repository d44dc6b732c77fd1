"""The one HTTP port: /metrics, /healthz, /readyz, /status."""

from drift_monitor.http.server import MonitorHttpServer, status_document

__all__ = ["MonitorHttpServer", "status_document"]
