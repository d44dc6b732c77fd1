"""The dashboard JSON round-trips through the Grafana Foundation SDK (PyPI
``grafana-foundation-sdk``, Grafana's own typed models of the dashboard schema).

No Grafana server is installable on the test machines (docs/DASHBOARD.md), so this is
the schema check: the SDK parses our JSON into its typed ``Dashboard`` and serialises
back the same panels, queries, variables, annotations and links. A field the SDK does
not know would be dropped and show up here as a difference.
"""

from __future__ import annotations

import json
from typing import Any

# A dev dependency (scripts/install): imported, not skipped, so a missing install fails.
from grafana_foundation_sdk.cog import encoder as sdk_encoder
from grafana_foundation_sdk.cog import plugins as sdk_plugins
from grafana_foundation_sdk.models import dashboard as sdk_dashboard

from tests.deploy.dashboard import iter_panels, load_dashboard

#: Prometheus annotation display fields Grafana stores beside ``expr``; the SDK's
#: AnnotationQuery does not model them (it expects a ``target``), so they are compared
#: only on our side (tests/deploy/test_dashboard.py).
_ANNOTATION_DISPLAY = {"step", "titleFormat", "textFormat", "tagKeys", "useValueForTime"}


def _round_trip() -> tuple[dict[str, Any], dict[str, Any]]:
    sdk_plugins.register_default_plugins()
    ours = load_dashboard()
    parsed = sdk_dashboard.Dashboard.from_json(json.loads(json.dumps(ours)))
    theirs = json.loads(json.dumps(parsed, cls=sdk_encoder.JSONEncoder))
    return ours, theirs


def _panel_view(panel: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": panel["id"],
        "type": panel["type"],
        "title": panel["title"],
        "description": panel.get("description"),
        "gridPos": {k: panel["gridPos"][k] for k in ("h", "w", "x", "y")},
        "datasource": panel.get("datasource"),
        "targets": [
            {k: t.get(k) for k in ("refId", "expr", "legendFormat")}
            for t in panel.get("targets", [])
        ],
        "links": [{k: link.get(k) for k in ("title", "url")} for link in panel.get("links", [])],
        "unit": panel.get("fieldConfig", {}).get("defaults", {}).get("unit"),
    }


def test_panels_and_queries_survive_the_sdk() -> None:
    ours, theirs = _round_trip()
    assert theirs["uid"] == ours["uid"] and theirs["title"] == ours["title"]
    assert theirs["schemaVersion"] == ours["schemaVersion"]
    mine = [_panel_view(p) for p in iter_panels(ours)]
    sdk = [_panel_view(p) for p in iter_panels(theirs)]
    assert len(mine) >= 20
    assert sdk == mine


def test_variables_links_and_annotations_survive_the_sdk() -> None:
    ours, theirs = _round_trip()

    def variables(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (v["name"], v["type"], json.dumps(v.get("query"), sort_keys=True), v.get("hide"))
            for v in doc["templating"]["list"]
        ]

    assert variables(theirs) == variables(ours)
    assert [(link["title"], link["url"]) for link in theirs["links"]] == [
        (link["title"], link["url"]) for link in ours["links"]
    ]
    mine = [
        {k: v for k, v in a.items() if k not in _ANNOTATION_DISPLAY | {"builtIn", "type"}}
        for a in ours["annotations"]["list"]
    ]
    sdk = [
        {k: v for k, v in a.items() if k not in {"builtIn", "type"}}
        for a in theirs["annotations"]["list"]
    ]
    assert sdk == mine
