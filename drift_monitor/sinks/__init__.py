"""Where evaluated windows go: Prometheus metrics, incidents (episodes -> webhook outbox
and report topic), the window audit log. Wired to the pipeline's hooks by the daemon;
they read the observable state (:mod:`drift_monitor.status`), never the pipeline."""
