"""Small HTML helpers shared by the report page and its column sections."""

from __future__ import annotations

import html

from drift_monitor.evaluation.results import ColumnResult, Status, TestResult
from drift_monitor.report import fmt
from drift_monitor.stats.registry import drift_test

#: A window missing ratio is highlighted when it differs from the baseline's by at least
#: this much (absolute) and by at least a fifth of the baseline ratio.
MISSING_DELTA = 0.02
#: An unseen ratio at or above this is highlighted (the baseline's is 0 by definition).
UNSEEN_NOTABLE = 0.01


def test_label(name: str) -> str:
    """A test's name as the report shows it (its registered ``html_label``)."""
    return drift_test(name).html_label


def effect_note(t: TestResult) -> str | None:
    """``"w 0.123"`` for a test decided on an effect size other than its statistic
    (the test's registered ``effect_label``), else None."""
    label = drift_test(t.test).effect_label
    return None if label is None else f"{label} {fmt.stat(t.effect)}"


def e(s: object) -> str:
    """``str(s)`` escaped for HTML text and attribute values."""
    return html.escape(str(s), quote=True)


def pill(status: Status) -> str:
    """A coloured status badge."""
    label = "insufficient data" if status == Status.INSUFFICIENT_DATA else status.label
    return f'<span class="pill st-{status.label}">{e(label)}</span>'


def anchor(i: int) -> str:
    """The element id of the i-th column section (ids never contain user data)."""
    return f"col-{i}"


def missing_marked(window_ratio: float, baseline_ratio: float) -> bool:
    """Whether a window's missing ratio differs markedly from the training one."""
    delta = abs(window_ratio - baseline_ratio)
    return delta >= MISSING_DELTA and delta >= 0.2 * baseline_ratio


def deciding_test(c: ColumnResult) -> str | None:
    """The test that put a warning or alerting column in its status: of the deciding
    tests at that status, the one with the largest effect relative to its alert
    threshold. None for ok and insufficient-data columns (no test raised them)."""
    if c.status < Status.WARNING:
        return None
    scored = [
        (t.effect / t.threshold if t.threshold > 0 else t.effect, t.test)
        for t in c.tests.values()
        if t.status == c.status
    ]
    return max(scored)[1] if scored else None
