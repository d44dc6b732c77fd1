"""Reading the Grafana dashboard's PromQL: panel queries, variables, metric names.

``dashboard_queries`` turns every panel target into a plain PromQL expression
with Grafana's variables replaced by concrete values, so a test can run each
one against a real Prometheus:

    from tests.deploy.dashboard import dashboard_queries
    for title, expr in dashboard_queries(model="fraud", feature="amount"):
        assert prom.query(expr), title
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "drift-monitor.json"

_PROMQL_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
        "atan2",
    }
)


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(Path(path).read_text())
    return dashboard


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row, including those inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace ``$name``, ``${name}`` and ``${name:format}`` by ``values[name]``."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value given for dashboard variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def dashboard_queries(
    path: Path = DASHBOARD,
    *,
    model: str = ".*",
    feature: str = ".*",
    job: str = ".*",
    namespace: str = ".*",
    rate_interval: str = "1m",
    interval: str = "15s",
    range_: str = "1h",
    include_variables: bool = False,
) -> list[tuple[str, str]]:
    """``(panel title, PromQL)`` for every target of every panel, variables substituted.

    ``job``, ``namespace``, ``model`` and ``feature`` are used inside ``=~"..."``
    matchers, so they are regular expressions (``.*`` is the dashboard's "All"); ``rate_interval``,
    ``interval`` and ``range_`` are PromQL durations standing in for
    ``$__rate_interval``, ``$__interval`` and ``$__range``. For a Prometheus
    scraping every second, ``rate_interval="10s"`` is plenty.
    With ``include_variables`` the template variables' ``label_values(metric,
    label)`` queries are added as ``count by (label) (metric)``.
    """
    values = {
        "job": job,
        "namespace": namespace,
        "model": model,
        "feature": feature,
        "__rate_interval": rate_interval,
        "__interval": interval,
        "__range": range_,
    }
    dashboard = load_dashboard(path)
    queries: list[tuple[str, str]] = []
    if include_variables:
        for name, expr in variable_queries(dashboard).items():
            queries.append((f"variable ${name}", substitute(expr, values)))
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr") and not target.get("hide"):
                queries.append((panel["title"], substitute(target["expr"], values)))
    return queries


def annotation_queries(path: Path = DASHBOARD, **values: str) -> list[tuple[str, str]]:
    """``(annotation name, PromQL)`` of every Prometheus annotation, variables substituted
    from ``values`` (default ``.*`` for job, namespace and model)."""
    filled = {"job": ".*", "namespace": ".*", "model": ".*", **values}
    return [
        (a["name"], substitute(a["expr"], filled))
        for a in load_dashboard(path)["annotations"]["list"]
        if a.get("expr")
    ]


def variable_queries(dashboard: dict[str, Any]) -> dict[str, str]:
    """PromQL equivalent of each ``label_values(metric, label)`` query variable."""
    result: dict[str, str] = {}
    for var in dashboard["templating"]["list"]:
        if var.get("type") != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
        if match is None:
            raise ValueError(f"variable {var['name']}: unsupported query {query!r}")
        result[var["name"]] = f"count by ({match.group(2)}) ({match.group(1)})"
    return result


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords, labels excluded)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    text = re.sub(r"'(?:\\.|[^'\\])*'", "''", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names: set[str] = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", text):
        word = match.group(0)
        if word.lower() in _PROMQL_KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names
