"""Model quality: late labels joined to predictions, performance per window, degradation.

Data flow (the daemon's wiring, issue 15)::

    prediction event --encode_outputs--> Prediction --+
                                                      +--> JoinStore.apply() --> flush()
    label event ------encode_label----> Label --------+            |
                                                                   v
    PerformanceTracker.evaluate(watermark) -> WindowPerformance (metrics, verdict, final)

- :mod:`drift_monitor.baseline.pairs`: the task rule (binary / multiclass / regression)
  and encoded pairs; :mod:`drift_monitor.baseline.performance`: the validation-set
  performance stored in the baseline, with its bootstrap variability per window size
  (both part of the baseline file's content, so they live in the lower ``baseline``
  layer).
- :mod:`.decision`: ``ok`` / ``degraded`` / ``insufficient_labels`` for one window.
- :mod:`.drift`: label drift (prior shift) with the prediction columns' tests.
- :mod:`.store`: the durable, bounded, idempotent join (in memory + an operation log:
  :mod:`.joinstate`, :mod:`.jointable`, :mod:`.joinlog`, :mod:`.joincodec`).
- :mod:`.tracker`: per-window performance from the store, final at a coverage share or
  ``max_delay``.
- :mod:`.encode`: one event's prediction and label, as the store keeps them.
- :mod:`.offline`: ``check --labels``.
- :mod:`.config`: the ``models[].labels`` config section.
- :mod:`.metrics`: the Prometheus families.

Submodules are imported directly (``from drift_monitor.labels.store import JoinStore``):
this package imports nothing itself.
"""
