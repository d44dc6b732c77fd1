"""Window *definitions* (the runtime is :mod:`drift_monitor.windows.runtime`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from drift_monitor.settings import StrictModel


class WindowSettings(StrictModel):
    """Event-time windows of one model.

    ``tumbling``: consecutive windows of ``size_seconds``. ``sliding``: windows of
    ``size_seconds`` every ``slide_seconds`` (size a multiple of slide). ``count``:
    every ``size_events`` events. A window closes when the model's event-time
    watermark (largest timestamp seen minus ``allowed_lateness_seconds``) passes its
    end, or after ``idle_timeout_seconds`` of processing time without events.

    Time windows are aligned to the epoch: they start at whole multiples of
    ``size_seconds`` (sliding: of ``slide_seconds``) since 1970-01-01T00:00Z, plus
    ``offset_seconds`` — so daily windows run midnight to midnight UTC unless
    ``offset_seconds`` moves the grid (``7200``: 02:00 to 02:00 UTC).

    The last window of a finite stream (a replay, a batch) closes by the idle timeout:
    ``idle_timeout_seconds`` after its last event the window is evaluated, whether or
    not the watermark passed its end. A daemon stopped by SIGTERM before that does not
    evaluate its open windows: they are evaluated after the restart, from durable state
    or by re-reading Kafka. Wait for the idle timeout before stopping it after a replay,
    or set ``evaluate_on_stop`` (``run --evaluate-on-stop`` for every model): a graceful
    stop then evaluates the open windows first, as the idle timeout would, and commits
    after their effects; a restart does not evaluate them again, and events for them
    that arrive later are counted ``late``.
    """

    type: Literal["tumbling", "sliding", "count"] = "tumbling"
    size_seconds: float = Field(default=300.0, gt=0)
    slide_seconds: float | None = Field(default=None, gt=0)
    size_events: int = Field(default=10_000, ge=1)
    offset_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Shift of the window grid: windows start at offset + k * size (or "
        "slide) seconds since the epoch, e.g. 7200 for days that start at 02:00 UTC.",
    )
    allowed_lateness_seconds: float = Field(default=30.0, ge=0)
    idle_timeout_seconds: float = Field(default=60.0, gt=0)
    max_events: int = Field(
        default=200_000,
        ge=100,
        description="Values kept per window for statistics; beyond it a uniform reservoir "
        "sample is kept (counts stay exact). Bounds memory.",
    )
    evaluate_open_every_seconds: float | None = Field(
        default=None, gt=0, description="Also evaluate the open window periodically (gauges)."
    )
    evaluate_on_stop: bool = Field(
        default=False,
        description="On a graceful stop (SIGTERM/SIGINT), close and evaluate the open "
        "windows (as the idle timeout would) and commit after their effects, within the "
        "stop grace period. Off: they are evaluated after the restart.",
    )

    @model_validator(mode="after")
    def _check(self) -> WindowSettings:
        if self.type == "sliding":
            if self.slide_seconds is None:
                raise ValueError("sliding windows need slide_seconds")
            ratio = self.size_seconds / self.slide_seconds
            if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
                raise ValueError("size_seconds must be a whole multiple of slide_seconds")
        return self
