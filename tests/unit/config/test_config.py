"""Config loading: examples, env overrides, one-line errors, generated reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.cli import main
from drift_monitor.config import apply_env_overrides, load_config, validate_config
from drift_monitor.config.reference import render
from drift_monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "config").glob("*.yaml"))
ENV = {
    "DRIFT_MONITOR_WEBHOOK_SECRET": "whsec_dGVzdA==",
    "AIRFLOW_BASIC_AUTH": "a",
    "GITHUB_TOKEN": "b",
}

MINIMAL = {"kafka": {"bootstrap_servers": ["k:9092"], "topics": ["t"]}, "models": [{"name": "m"}]}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_validates(path: Path) -> None:
    cfg = load_config(path, environ=ENV)
    assert cfg.models
    # Relative directories resolve against the config file's directory.
    assert cfg.baselines.dir.is_absolute()


def test_at_least_the_documented_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {
        "single-model.yaml",
        "multi-model.yaml",
        "flat-events.yaml",
        "sliding-windows.yaml",
        "column-overrides.yaml",
    } <= names


def test_config_reference_is_current() -> None:
    assert (ROOT / "docs" / "CONFIG.md").read_text() == render(), (
        "docs/CONFIG.md is stale: python -m drift_monitor.config.reference > docs/CONFIG.md"
    )


def test_env_overrides_nested_fields_and_list_items(tmp_path: Path) -> None:
    data = {**MINIMAL, "models": [{"name": "m"}, {"name": "n"}]}
    env = {
        "DRIFT_MONITOR__KAFKA__GROUP_ID": "g2",
        "DRIFT_MONITOR__KAFKA__BOOTSTRAP_SERVERS": "[a:1, b:2]",
        "DRIFT_MONITOR__MODELS__1__WINDOW__SIZE_SECONDS": "60",
        "DRIFT_MONITOR__HTTP__PORT": "9999",
        "UNRELATED": "x",
    }
    cfg = validate_config(apply_env_overrides(data, env))
    assert cfg.kafka.group_id == "g2"
    assert cfg.kafka.bootstrap_servers == ["a:1", "b:2"]
    assert cfg.models[1].window.size_seconds == 60
    assert cfg.models[0].window.size_seconds == 300
    assert cfg.http.port == 9999


def test_defaults_merge_under_model_settings() -> None:
    cfg = validate_config(
        {
            **MINIMAL,
            "defaults": {"window": {"size_seconds": 42, "idle_timeout_seconds": 5}},
            "models": [{"name": "a", "window": {"size_seconds": 7}}, {"name": "b"}],
        }
    )
    assert cfg.models[0].window.size_seconds == 7
    assert cfg.models[0].window.idle_timeout_seconds == 5
    assert cfg.models[1].window.size_seconds == 42


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        (
            {"kafka": {"bootstrap_servers": ["k:9092"], "topics": ["t"], "grup_id": "x"}},
            "kafka.grup_id: unknown field",
        ),
        ({"kafka": {"topics": ["t"]}}, "kafka.bootstrap_servers: required field is missing"),
        (
            {"models": [{"name": "m", "window": {"size_seconds": "soon"}}]},
            "models.0.window.size_seconds",
        ),
        (
            {
                "models": [
                    {
                        "name": "m",
                        "window": {"type": "sliding", "size_seconds": 10, "slide_seconds": 3},
                    }
                ]
            },
            "whole multiple",
        ),
        ({"models": [{"name": "m"}, {"name": "m"}]}, "configured twice"),
        (
            {"webhooks": {"targets": [{"name": "t", "url": "ftp://x", "secret": {"env": "S"}}]}},
            "webhooks.targets.0.url",
        ),
    ],
)
def test_invalid_config_is_one_line_naming_the_field(patch: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_config({**MINIMAL, **patch}, "c.yaml")
    msg = str(err.value)
    assert "\n" not in msg
    assert needle in msg
    assert msg.startswith("c.yaml: ")


def test_config_validate_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kafka: {bootstrap_servers: [k:1], topics: [t]}\nmodels: [{name: m}]\nextra: 1\n"
    )
    assert main(["config", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "extra: unknown field" in err and err.count("\n") == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("kafka: [unclosed\n")
    assert main(["config", "validate", str(broken)]) == 2
    assert "invalid YAML at line" in capsys.readouterr().err
    assert main(["config", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text("kafka: {bootstrap_servers: [k:1], topics: [t]}\nmodels: [{name: m}]\n")
    assert main(["config", "validate", str(good)]) == 0


def test_unreadable_secret_names_the_target_without_leaking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "kafka: {bootstrap_servers: [k:1], topics: [t]}\nmodels: [{name: m}]\n"
        "webhooks: {targets: [{name: hook, url: 'http://x/', secret: {file: /nonexistent/s}}]}\n"
    )
    assert main(["config", "validate", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "hook" in err


def test_config_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "kafka" in schema["properties"] and "models" in schema["required"]
