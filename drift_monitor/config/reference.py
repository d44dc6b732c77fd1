"""Generate docs/CONFIG.md from the pydantic models, so the reference cannot drift.

``python -m drift_monitor.config.reference > docs/CONFIG.md`` (a test checks the file
is current).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from drift_monitor.config.models import AppConfig

_HEADER = """# Configuration reference

Generated from the pydantic models by `python -m drift_monitor.config.reference`; do not
edit by hand. Every field can be overridden with `DRIFT_MONITOR__SECTION__FIELD=value`
(list items by index, e.g. `DRIFT_MONITOR__MODELS__0__WINDOW__SIZE_SECONDS=60`).
Unknown fields are errors. `defaults.window`, `defaults.detection` and
`defaults.episodes` take the same fields as a model's `window`, `detection` and
`episodes` and are merged under each model's own values. Examples: `config/*.yaml`.
"""


_MODULE_PATH = re.compile(
    r"\b(?:drift_monitor|typing|pathlib|pydantic)(?:\.[a-z_]+)*\.(?=[A-Za-z_])"
)


def _type_name(annotation: Any) -> str:
    # A settings class is named as written, whichever stage's module defines it.
    text = _MODULE_PATH.sub("", str(annotation))
    return text.replace("<class '", "").replace("'>", "")


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        try:
            value = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    else:
        value = info.default
    if isinstance(value, BaseModel):
        return "(see section)"
    try:
        return "`" + json.dumps(value, default=str) + "`"
    except TypeError:
        return f"`{value}`"


def _section(model: type[BaseModel], path: str, out: list[str], seen: set[str]) -> None:
    out.append(f"\n## `{path}`\n")
    doc = (model.__doc__ or "").strip()
    if doc:
        out.append(doc + "\n")
    out.append("| field | type | default | description |")
    out.append("|---|---|---|---|")
    nested: list[tuple[type[BaseModel], str]] = []
    for name, info in model.model_fields.items():
        desc = (info.description or "").replace("\n", " ")
        out.append(f"| `{name}` | `{_type_name(info.annotation)}` | {_default(info)} | {desc} |")
        for sub in _models_in(info.annotation):
            key = f"{path}.{name}"
            if key not in seen:
                seen.add(key)
                nested.append((sub, key if path != "(top level)" else name))
    for sub, key in nested:
        _section(sub, key, out, seen)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    return found


def render() -> str:
    """The whole reference as Markdown."""
    out: list[str] = [_HEADER]
    _section(AppConfig, "(top level)", out, set())
    return "\n".join(out) + "\n"


def main() -> int:
    """Print the reference."""
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
