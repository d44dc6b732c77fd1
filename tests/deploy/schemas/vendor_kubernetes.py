"""Regenerate kubernetes-strict.json from the schemas shipped in PyPI's kubernetes-validate.

kubernetes-validate (Apache-2.0) carries the JSON Schemas that yannh/kubernetes-json-schema
derives from the official Kubernetes OpenAPI spec, one directory per Kubernetes version;
the ``-strict`` variants forbid unknown fields. We keep only what our manifests need:
the kinds below and every definition they reference, with descriptions dropped. So the
tests need neither the 70 MB package nor the network:

    pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv
    python tests/deploy/schemas/vendor_kubernetes.py /tmp/kv/kubernetes_validate-1.37.0-*.whl
"""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from pathlib import Path
from typing import Any

KUBERNETES_VERSION = "1.30.0"
# (file stem in the package, apiVersion, kind)
KINDS = [
    ("deployment-apps-v1", "apps/v1", "Deployment"),
    ("statefulset-apps-v1", "apps/v1", "StatefulSet"),
    ("service-v1", "v1", "Service"),
    ("configmap-v1", "v1", "ConfigMap"),
    ("secret-v1", "v1", "Secret"),
    ("persistentvolumeclaim-v1", "v1", "PersistentVolumeClaim"),
]
OUT = Path(__file__).with_name("kubernetes-strict.json")
_REF = re.compile(r"^(?:(?:/api/)?_definitions\.json)?#/\$defs/(.+)$")


def _strip(node: Any, refs: set[str]) -> Any:
    """Drop descriptions, point refs into this file, collect the referenced names."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            # A *property* named description is a dict: keep it.
            if key in ("description", "$schema", "$id") and isinstance(value, str):
                continue
            if key == "$ref":
                match = _REF.match(value)
                if match is None:
                    raise ValueError(f"unexpected $ref {value!r}")
                refs.add(match.group(1))
                out[key] = f"#/$defs/{match.group(1)}"
            else:
                out[key] = _strip(value, refs)
        return out
    if isinstance(node, list):
        return [_strip(item, refs) for item in node]
    return node


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="kubernetes_validate-*.whl")
    args = parser.parse_args()
    base = f"kubernetes_validate/kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
    with zipfile.ZipFile(args.wheel) as whl:
        all_defs = json.loads(whl.read(f"{base}/_definitions.json"))["$defs"]
        defs: dict[str, Any] = {}
        kinds: dict[str, str] = {}
        pending: set[str] = set()
        for stem, api_version, kind in KINDS:
            key = f"kind:{api_version}:{kind}".replace("/", "_")
            defs[key] = _strip(json.loads(whl.read(f"{base}/{stem}.json")), pending)
            kinds[f"{api_version}/{kind}"] = key
    while pending:
        name = pending.pop()
        if name not in defs:
            defs[name] = _strip(all_defs[name], pending)
    bundle = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": (
            f"Kubernetes v{KUBERNETES_VERSION} strict JSON Schemas (from PyPI's "
            "kubernetes-validate, Apache-2.0), reduced by tests/deploy/schemas/"
            "vendor_kubernetes.py. Do not edit."
        ),
        "kubernetesVersion": KUBERNETES_VERSION,
        "kinds": kinds,
        "$defs": dict(sorted(defs.items())),
    }
    OUT.write_text(json.dumps(bundle, indent=1, sort_keys=False) + "\n")
    print(f"{OUT}: {len(kinds)} kinds, {len(defs)} definitions, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
