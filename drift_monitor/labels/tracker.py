"""Per-window performance that updates as labels arrive and becomes final.

The accumulator is the join store itself (durable, idempotent): a window's metrics are
computed from its joined pairs whenever :meth:`PerformanceTracker.evaluate` runs, so a
restart resumes with exactly the pairs that were flushed. A window becomes *final* when
its label coverage reaches ``final_coverage`` or the event-time watermark passes its end
plus ``max_delay``; its final result is returned once and its predictions are dropped
(:meth:`JoinStore.finalize`, in the same transaction as the batch being flushed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drift_monitor.baseline.performance import BaselinePerformance
from drift_monitor.labels.decision import (
    DegradationSettings,
    PerformanceVerdict,
    decide_performance,
)
from drift_monitor.labels.encode import pairs_from_store
from drift_monitor.labels.store import JoinStore, WindowCoverage
from drift_monitor.stats.performance import Performance


@dataclass(frozen=True, slots=True)
class WindowPerformance:
    """One prediction window's performance so far: its coverage (``joined`` of
    ``tracked`` sampled predictions), metrics of the joined pairs, the verdict against
    the baseline, label delays (seconds: median and max, NaN without joins), and whether
    it is ``final``."""

    model: str
    window_id: int
    window_end: float
    tracked: int
    joined: int
    performance: Performance
    verdict: PerformanceVerdict
    delay_median: float
    delay_max: float
    final: bool

    @property
    def coverage(self) -> float:
        """joined / tracked (0 when nothing is tracked)."""
        return self.joined / self.tracked if self.tracked else 0.0


class PerformanceTracker:
    """Evaluates one model's prediction windows from a :class:`JoinStore`.

    ``final_coverage`` in (0, 1]: the share of tracked predictions with a label at which a
    window is final before ``max_delay`` (defaults to the store's) has passed.
    """

    def __init__(
        self,
        store: JoinStore,
        model: str,
        baseline: BaselinePerformance,
        settings: DegradationSettings,
        *,
        final_coverage: float = 0.95,
        max_delay: float | None = None,
    ) -> None:
        if not 0.0 < final_coverage <= 1.0:
            raise ValueError(f"final_coverage must be in (0, 1], got {final_coverage}")
        self.store = store
        self.model = model
        self.baseline = baseline
        self.settings = settings
        self.final_coverage = final_coverage
        self.max_delay = store.max_delay if max_delay is None else max_delay

    def evaluate(
        self,
        watermark: float,
        seen: dict[int, tuple[int, int]] | None = None,
        provisional: bool = True,
    ) -> list[WindowPerformance]:
        """Every open window's performance at event time ``watermark``, oldest first;
        windows that become final now are finalised in the store (flush it afterwards,
        with the batch) and returned with ``final=True``, never again.

        Windows become final in window order: a window that is ready (coverage or
        ``max_delay``) waits for every earlier open window, so whoever consumes final
        results (the performance episodes) sees them in event-time order.

        ``seen`` (window id -> (tracked, joined) at its last evaluation), when given,
        skips open windows whose counts did not change and is updated: the caller's
        cache, so a tick costs one query when nothing happened.

        ``provisional`` False: only the windows that become final now are scored (and
        returned); open windows are skipped and ``seen`` keeps their last scored counts,
        so the next call with ``provisional`` True scores those that changed.
        """
        out = []
        earlier_open = False
        for w in self.store.windows(self.model):
            ready = (
                w.tracked > 0 and w.coverage >= self.final_coverage
            ) or watermark >= w.window_end + self.max_delay
            final = ready and not earlier_open
            earlier_open = earlier_open or not final
            counts = (w.tracked, w.joined)
            if not final and not provisional:
                continue
            if seen is not None:
                if not final and seen.get(w.window_id) == counts:
                    continue
                if final:
                    seen.pop(w.window_id, None)
                else:
                    seen[w.window_id] = counts
            out.append(self._window(w, final))
            if final:
                self.store.finalize(self.model, w.window_id)
        self.store.forget_windows(self.model, watermark - 2 * self.max_delay)
        return out

    def _window(self, w: WindowCoverage, final: bool) -> WindowPerformance:
        labels, outputs, delays = self.store.pairs(self.model, w.window_id)
        perf = pairs_from_store(self.baseline.spec, labels, outputs).metrics()
        verdict = decide_performance(perf, self.baseline, self.settings)
        has = delays.shape[0] > 0
        return WindowPerformance(
            model=self.model,
            window_id=w.window_id,
            window_end=w.window_end,
            tracked=w.tracked,
            joined=w.joined,
            performance=perf,
            verdict=verdict,
            delay_median=float(np.median(delays)) if has else float("nan"),
            delay_max=float(delays.max()) if has else float("nan"),
            final=final,
        )
