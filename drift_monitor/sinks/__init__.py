"""Outputs of the pipeline: Prometheus metrics, the window audit log."""
