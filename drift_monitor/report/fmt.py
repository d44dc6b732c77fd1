"""Number and time formatting shared by the report's tables and charts."""

from __future__ import annotations

import datetime as dt
import math


def stat(x: float | None) -> str:
    """A test statistic: 3 significant decimals, scientific below 0.001, ``-`` for None."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return "∞" if x > 0 else ("-∞" if x < 0 else "NaN")
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.1e}"
    if abs(x) >= 10_000:
        return f"{x:,.0f}"
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.1f}"


def p_value(p: float | None) -> str:
    """A p-value: ``< 1e-300`` for an underflowed 0, 2 significant digits otherwise."""
    if p is None:
        return ""
    if p == 0:
        return "< 1e-300"
    if p < 1e-3:
        return f"{p:.1e}"
    return f"{p:.2g}" if p < 0.995 else "1"


def pct(x: float | None, digits: int = 1) -> str:
    """A ratio in [0, 1] as a percentage (``-`` for None)."""
    if x is None:
        return "-"
    return f"{100 * x:.{digits}f} %"


def axis(x: float) -> str:
    """A compact axis label: 1.2k, 45k, 3.5M, 0.25, 1e-05."""
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1e6:
        return f"{x / 1e6:.3g}M"
    if a >= 1e4:
        return f"{x / 1e3:.3g}k"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 1e-3:
        return f"{x:.3g}"
    return f"{x:.0e}"


def share(x: float) -> str:
    """A fraction as an axis percentage: 25 %, 2.5 %, 0.25 %."""
    v = 100 * x
    if v == 0:
        return "0 %"
    if abs(v) >= 10:
        return f"{v:.0f} %"
    return f"{v:.2g} %"


def timestamp(epoch: float | None) -> str:
    """Epoch seconds as RFC 3339 UTC with seconds (``-`` for None)."""
    if epoch is None:
        return "-"
    t = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


def count(n: int) -> str:
    """An integer with thousands separators."""
    return f"{n:,}"
