"""Loading the YAML config: env overrides, relative paths, one-line errors.

Env overrides: ``DRIFT_MONITOR__SECTION__FIELD=value`` sets ``section.field``; deeper
paths nest with ``__`` and list items are addressed by index
(``DRIFT_MONITOR__MODELS__0__WINDOW__SIZE_SECONDS=60``). Values are parsed as YAML
scalars/flow collections, so ``9092``, ``true`` and ``[a:9092, b:9092]`` work.
Relative paths in ``baselines.dir``, ``state.dir`` and TLS files are resolved against
the config file's directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drift_monitor.config.models import AppConfig
from drift_monitor.errors import ConfigError

ENV_PREFIX = "DRIFT_MONITOR__"
#: Largest config file read (bytes); real configs are a few KB.
MAX_CONFIG_BYTES = 1024 * 1024
#: Most values (mappings, lists, scalars) a config may hold once YAML aliases are
#: expanded: anchors and aliases stay usable, an alias bomb ("billion laughs") does not.
MAX_CONFIG_NODES = 100_000


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> AppConfig:
    """Read, override from the environment, and validate the config file at ``path``.

    Raises :class:`ConfigError` with one line naming the file, the field and the fix.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read config file ({exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{p}: config file is larger than {MAX_CONFIG_BYTES:,} bytes")
    try:
        data = yaml.safe_load(text)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: the config must be a mapping of sections (kafka:, models:, …)")
        check_expanded_size(data, str(p))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{p}: YAML is nested too deeply") from None
    data = apply_env_overrides(data, os.environ if environ is None else environ)
    _resolve_paths(data, p.parent)
    return validate_config(data, str(p))


def check_expanded_size(data: Any, source: str, limit: int = MAX_CONFIG_NODES) -> None:
    """Raise ConfigError when ``data`` would hold more than ``limit`` values with every
    YAML alias expanded, or refers to itself.

    PyYAML shares an aliased node instead of copying it, so a 546-byte file can describe
    billions of values; anything that walks the data (the env-override copy, pydantic)
    would expand them. Sizes are computed per distinct node, so this is linear in the
    size of the file, whatever the expansion.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(v: Any) -> int:
        if not isinstance(v, dict | list):
            return 1
        key = id(v)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError(f"{source}: a YAML alias refers to itself; remove the cycle")
        active.add(key)
        n = 1 + sum(size(x) for x in (v.values() if isinstance(v, dict) else v))
        if n > limit:
            raise ConfigError(
                f"{source}: the config expands to more than {limit:,} values (YAML aliases "
                "repeated inside aliases?); write the values out or use fewer aliases"
            )
        active.discard(key)
        sizes[key] = n
        return n

    size(data)


def check_secrets(config: AppConfig, source: str, environ: Mapping[str, str] | None = None) -> None:
    """Resolve every secret reference now (webhook secrets and headers, Kafka SASL/SSL
    passwords) so that a missing env variable or unreadable file is reported at start-up
    as one line naming ``source`` and the field — never the secret's value."""
    try:
        config.webhooks.check_secrets(environ)
        k = config.kafka
        if k.sasl is not None:
            k.sasl.password.resolve("kafka.sasl.password", environ)
        if k.ssl is not None and k.ssl.password is not None:
            k.ssl.password.resolve("kafka.ssl.password", environ)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def validate_config(data: dict[str, Any], source: str = "config") -> AppConfig:
    """Validate a config mapping; ConfigError naming ``source`` and the first bad field."""
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None


def _one_line(exc: ValidationError, source: str) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
    kind = first["type"]
    msg = first["msg"]
    if kind == "extra_forbidden":
        fix = "remove it or fix its spelling (`drift-monitor config schema` lists every field)"
        msg = "unknown field"
    elif kind == "missing":
        fix = "add it"
        msg = "required field is missing"
    else:
        fix = "see `drift-monitor config schema`"
        msg = msg.removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{source}: {loc}: {msg}; {fix}{more}"


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``data`` with every ``DRIFT_MONITOR__A__B=value`` applied as ``a.b``."""
    out: dict[str, Any] = _copy(data)
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [s.lower() for s in key[len(ENV_PREFIX) :].split("__") if s]
        if not parts:
            continue
        try:
            value = yaml.safe_load(environ[key])
        except yaml.YAMLError:
            value = environ[key]
        _set_path(out, parts, value, key)
    return out


def _copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def _set_path(node: Any, parts: list[str], value: Any, env_key: str) -> None:
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"{env_key}: list index {part!r} does not exist in the config file"
                )
            if last:
                node[int(part)] = value
                return
            node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return
            if not isinstance(node.get(part), dict | list):
                node[part] = {}
            node = node[part]
        else:
            raise ConfigError(f"{env_key}: cannot set {'.'.join(parts)}: parent is not a section")


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    def fix(section: Any, key: str) -> None:
        if isinstance(section, dict) and isinstance(section.get(key), str):
            path = Path(section[key])
            if not path.is_absolute():
                section[key] = str(base / path)

    fix(data.get("baselines"), "dir")
    fix(data.get("state"), "dir")
    kafka = data.get("kafka")
    if isinstance(kafka, dict):
        for key in ("cafile", "certfile", "keyfile"):
            fix(kafka.get("ssl"), key)
    if not isinstance(data.get("baselines"), dict):
        data["baselines"] = {**(data.get("baselines") or {}), "dir": str(base / "baselines")}
    if not isinstance(data.get("state"), dict):
        data["state"] = {**(data.get("state") or {}), "dir": str(base / "state")}
    for section, default in (("baselines", "baselines"), ("state", "state")):
        if "dir" not in data[section]:
            data[section]["dir"] = str(base / default)
