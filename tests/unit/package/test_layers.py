"""The one-way layering of the package, enforced.

Every module's imports of ``drift_monitor.*`` (including those inside functions and under
``TYPE_CHECKING``) must point at its own top-level package or at a strictly lower layer of
``LAYERS`` (the table the README's layout section shows). Kafka client libraries are
imported only under ``drift_monitor/source``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "drift_monitor"

#: Lowest first. A module may import its own package and any package of a lower layer;
#: packages on the same layer are independent of each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "clock"),
    ("settings", "logs", "tables"),
    ("stats",),
    ("baseline",),
    ("decode", "webhooks", "source"),
    ("windows",),
    ("evaluation",),
    ("labels",),
    ("status",),
    ("config",),
    ("checkpoint",),
    ("pipeline", "sinks", "report", "http"),
    ("loop",),
    ("daemon",),
    ("demo",),
    ("cli",),
    ("__main__",),
)
KAFKA_CLIENTS = ("kafka", "confluent_kafka")
#: Downward arrows that are still not allowed: the pipeline hands evaluated windows to the
#: hooks the daemon wires and imports no sink or delivery package.
FORBIDDEN = {("pipeline", "webhooks")}
#: ``config`` composes the settings each stage owns: of another package it imports only
#: a settings module (``<stage>.settings`` or ``<stage>.config``), never runtime code.
SETTINGS_MODULES = ("settings", "config")
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _stage(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else ""


def _imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module
                base = module.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_package_is_in_the_table() -> None:
    stages = {_stage(p) for p in _modules()} - {""}
    assert stages <= set(RANK), f"add to LAYERS: {sorted(stages - set(RANK))}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    stage = _stage(path)
    module = "drift_monitor." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    arrows = []
    for line, name in _imports(ast.parse(path.read_text()), module):
        parts = name.split(".")
        if parts[0] in KAFKA_CLIENTS and stage != "source":
            arrows.append(f"line {line}: {name} (Kafka clients only under source/)")
        if parts[0] != "drift_monitor" or len(parts) < 2:
            continue
        target = parts[1]
        if target == stage or stage == "":
            continue
        if RANK.get(target, -1) >= RANK.get(stage, -1) or (stage, target) in FORBIDDEN:
            arrows.append(f"line {line}: {stage} -> {target}")
        elif (
            stage == "config"
            and target not in LAYERS[0] + ("settings",)
            and (len(parts) < 3 or parts[2] not in SETTINGS_MODULES)
        ):
            arrows.append(f"line {line}: config -> {name} (compose settings modules only)")
    assert not arrows, f"{path.relative_to(PACKAGE)} imports against the layers: {arrows}"
