"""``models[].labels``: where a model's ground truth comes from and how it is judged.

Absent: the model's performance is not monitored. Present: label events are read from
``topic`` (or, when ``topic`` is null, label-only events on the prediction topic), joined
to predictions by event id in the join store, and every prediction window is scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drift_monitor.baseline.performance import LEVELS
from drift_monitor.labels.decision import DEFAULT_MINIMUMS, DegradationSettings
from drift_monitor.labels.store import DEFAULT_MAX_DELAY_S, DEFAULT_MAX_ENTRIES
from drift_monitor.stats.performance import CLASSIFICATION_METRICS, REGRESSION_METRICS

#: Default ``evaluate_every_seconds``: provisional metrics in /status and on the report
#: topic at most 30 s old, while scoring open windows costs nothing per record.
DEFAULT_EVALUATE_EVERY_S = 30.0
_METRICS = frozenset(CLASSIFICATION_METRICS + REGRESSION_METRICS)


class LabelFields(BaseModel):
    """Where a label event keeps its fields. A dotted name (``outcome.value``) reads a
    nested object; see :func:`field_value`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(default="event_id", min_length=1)
    label: str = Field(default="label", min_length=1)
    timestamp: str | None = Field(
        default="timestamp",
        description="Label event time (RFC 3339 or epoch s/ms); absent or null: the "
        "Kafka record timestamp. Label delay = this minus the prediction's event time.",
    )
    model: str | None = Field(
        default="model", description="Model name field; absent: the record key, then this model."
    )


class LabelSettings(BaseModel):
    """One model's label join and performance decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str | None = Field(
        default=None,
        description="Labels topic; null: label-only events on the prediction topic "
        "(an event with a label and no prediction).",
    )
    fields: LabelFields = Field(default_factory=LabelFields)
    window_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Length of the prediction windows performance is computed over "
        "(tumbling, event time, on the model's window grid and offset); null: the model's "
        "window.size_seconds (also for count windows, whose size_seconds then sets it).",
    )
    max_delay_seconds: float = Field(
        default=DEFAULT_MAX_DELAY_S,
        gt=0,
        description="How long a prediction waits for its label (and a label for its "
        "prediction), in event time; then it is expired (orphaned) and its window final.",
    )
    sample_rate: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Share of event ids tracked (deterministic hash: predictions and labels "
        "agree); lower it for high-volume models.",
    )
    max_entries: int = Field(
        default=DEFAULT_MAX_ENTRIES,
        ge=1_000,
        description="Cap on predictions plus waiting labels held; past it the oldest are "
        "evicted (waiting labels, then unlabelled, then joined predictions) and counted.",
    )
    final_coverage: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="A window is final once this share of its tracked predictions has a label.",
    )
    min_labels: int = Field(
        default=200, ge=1, description="Fewer joined labels: insufficient_labels, never degraded."
    )
    metrics: tuple[str, ...] | None = Field(
        default=None,
        description="Deciding metrics; null: roc_auc (binary), accuracy (multiclass), "
        "rmse (regression).",
    )
    minimums: dict[str, float] = Field(
        default_factory=dict,
        description="Minimum shortfall per metric before it can be degraded, merged over "
        f"the defaults {dict(DEFAULT_MINIMUMS)}.",
    )
    relative_minimum: float = Field(
        default=0.1,
        ge=0,
        description="Minimum shortfall of metrics without one, as a share of the baseline value.",
    )
    level: float = Field(
        default=0.99,
        description="1 - the false-degraded budget per window: 0.95 or 0.99 (the bootstrap "
        "levels stored in the baseline), split evenly across the deciding metrics.",
    )
    store_path: Path | None = Field(
        default=None,
        description="Join store file (an operation log, docs/LABELS.md); default "
        "<state.dir>/labels.join.",
    )
    evaluate_every_seconds: float = Field(
        default=DEFAULT_EVALUATE_EVERY_S,
        ge=0,
        description="Open (not yet final) prediction windows whose labels changed are "
        "re-scored at most this often (wall-clock seconds; 0: on every tick). Finality is "
        "still checked on every tick and a final window is scored when it becomes final.",
    )
    synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="FULL: every flush is fsync'ed (survives power loss). NORMAL: survives "
        "kill -9 but may lose the last flushes on power loss; faster.",
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for m in v or ():
            if m not in _METRICS:
                raise ValueError(f"unknown metric {m!r}; one of {', '.join(sorted(_METRICS))}")
        return v

    @field_validator("minimums")
    @classmethod
    def _known_minimums(cls, v: dict[str, float]) -> dict[str, float]:
        for m, x in v.items():
            if m not in _METRICS:
                raise ValueError(f"unknown metric {m!r}; one of {', '.join(sorted(_METRICS))}")
            if x < 0:
                raise ValueError(f"minimums.{m} must be >= 0")
        return v

    @field_validator("level")
    @classmethod
    def _stored_level(cls, v: float) -> float:
        if v not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(map(str, LEVELS))}")
        return v

    def degradation(self) -> DegradationSettings:
        """The decision settings (:class:`DegradationSettings`) these fields describe."""
        return DegradationSettings(
            min_labels=self.min_labels,
            metrics=self.metrics,
            minimums={**DEFAULT_MINIMUMS, **self.minimums},
            relative_minimum=self.relative_minimum,
            level=self.level,
        )


def field_value(event: Mapping[str, object], name: str) -> object:
    """The value at ``name`` in a decoded label event: a top-level key, else a dotted
    path into nested objects (``outcome.value``); None when absent."""
    if name in event:
        return event[name]
    node: object = event
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node
