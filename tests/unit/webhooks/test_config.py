from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from drift_monitor.errors import ConfigError
from drift_monitor.webhooks import SecretRef, WebhookSettings, WebhookTarget
from tests.unit.webhooks.factories import BEARER, SECRET

YAML = """
targets:
  - name: retrain-fraud
    url: https://hooks.example.com/drift
    secret: {env: HOOK_SECRET}
    additional_secrets: [{env: NEXT_HOOK_SECRET}]
    models: [fraud]
    timeout_seconds: 5
  - name: github
    url: https://api.github.com/repos/acme/models/dispatches
    preset: github_repository_dispatch
    event_type: retrain-model
    secret: {file: /run/secrets/hook}
    headers:
      Authorization: {env: HOOK_TOKEN, prefix: "Bearer "}
      X-Team: ml-platform
max_age_seconds: 7200
initial_backoff_seconds: 1
max_backoff_seconds: 300
"""


def target(**overrides: Any) -> WebhookTarget:
    fields: dict[str, Any] = {
        "name": "t",
        "url": "https://hooks.example.com/x",
        "secret": {"env": "HOOK_SECRET"},
    }
    fields.update(overrides)
    return WebhookTarget.model_validate(fields)


def test_yaml_example_parses_with_defaults() -> None:
    settings = WebhookSettings.model_validate(yaml.safe_load(YAML))
    fraud, github = settings.targets
    assert fraud.preset == "standard" and fraud.timeout_seconds == 5
    assert fraud.serves("fraud") and not fraud.serves("churn")
    assert github.serves("anything") and github.event_type == "retrain-model"
    assert settings.max_age_seconds == 7200
    assert settings.signature_tolerance_seconds == 300
    assert WebhookSettings().max_age_seconds == 86_400
    assert WebhookSettings().initial_backoff_seconds == 2
    assert WebhookSettings().max_backoff_seconds == 600
    assert settings.target("github") is github and settings.target("nope") is None


def test_misspelled_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="timeout_second"):
        target(timeout_second=3)
    with pytest.raises(ValidationError):
        WebhookSettings.model_validate({"target": []})


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "example.com/hook",
        "https://",
        "https://user:pw@example.com/x",
        "https://example.com/x#frag",
        "https://example.com:99999/x",
    ],
)
def test_only_plain_http_and_https_urls(url: str) -> None:
    with pytest.raises(ValidationError):
        target(url=url)


def test_http_url_with_port_and_query_is_fine() -> None:
    assert target(url="http://127.0.0.1:8080/api/v1/dags/retrain/dagRuns?x=1").url.endswith("x=1")


@pytest.mark.parametrize(
    "ref", [{}, {"env": "A", "file": "/x"}, {"env": "A", "value": "v"}, {"env": "not a name"}]
)
def test_secret_ref_needs_exactly_one_source(ref: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SecretRef.model_validate(ref)


def test_secret_resolves_from_env_file_and_value(tmp_path: Path) -> None:
    path = tmp_path / "hook-secret"
    path.write_text(SECRET + "\n")
    env = {"HOOK_SECRET": SECRET}
    for ref in ({"env": "HOOK_SECRET"}, {"file": str(path)}, {"value": SECRET}):
        [resolved] = target(secret=ref).resolve_secrets(env)
        assert isinstance(resolved, SecretStr)
        assert resolved.get_secret_value() == SECRET


def test_rotation_resolves_every_secret_in_order() -> None:
    t = target(additional_secrets=[{"value": "second"}])
    assert [s.get_secret_value() for s in t.resolve_secrets({"HOOK_SECRET": "first"})] == [
        "first",
        "second",
    ]


def test_missing_env_secret_names_target_and_field() -> None:
    with pytest.raises(ConfigError) as info:
        target(name="airflow").resolve_secrets({})
    message = str(info.value)
    assert "webhooks.targets[airflow].secret" in message and "HOOK_SECRET" in message


def test_unreadable_or_empty_secret_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"targets\[t\]\.secret.*cannot read"):
        target(secret={"file": str(tmp_path / "absent")}).resolve_secrets({})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        target(secret={"file": str(empty)}).resolve_secrets({})


def test_malformed_whsec_secret_is_a_config_error_without_the_value() -> None:
    bad = "whsec_***SEKRIT***"
    with pytest.raises(ConfigError) as info:
        target(additional_secrets=[{"value": bad}]).resolve_secrets({"HOOK_SECRET": SECRET})
    assert "additional_secrets[0]" in str(info.value)
    assert "SEKRIT" not in str(info.value)


def test_headers_resolve_env_references_with_prefix() -> None:
    t = target(headers={"Authorization": {"env": "HOOK_TOKEN", "prefix": "Bearer "}, "X-A": "b"})
    assert t.resolve_headers({"HOOK_TOKEN": BEARER}) == {
        "Authorization": f"Bearer {BEARER}",
        "X-A": "b",
    }
    with pytest.raises(ConfigError, match=r"targets\[t\]\.headers\.Authorization"):
        t.resolve_headers({})


@pytest.mark.parametrize(
    "headers",
    [
        {"webhook-signature": "x"},
        {"Content-Type": "text/plain"},
        {"Bad Name": "x"},
        {"X-A": "1", "x-a": "2"},
        {"X-A": "line\nbreak"},
    ],
)
def test_invalid_or_reserved_headers_are_rejected(headers: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        target(headers=headers)


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="unique"):
        WebhookSettings(targets=[target(name="a"), target(name="a")])
    with pytest.raises(ValidationError, match="initial_backoff"):
        WebhookSettings(initial_backoff_seconds=10, max_backoff_seconds=5)
    with pytest.raises(ValidationError):
        target(timeout_seconds=0)
    with pytest.raises(ValidationError):
        target(preset="slack")


def test_check_secrets_resolves_everything_up_front() -> None:
    settings = WebhookSettings.model_validate(yaml.safe_load(YAML))
    with pytest.raises(ConfigError, match="NEXT_HOOK_SECRET"):
        settings.check_secrets({"HOOK_SECRET": SECRET})


def test_secrets_never_appear_in_repr_str_or_dumps(tmp_path: Path) -> None:
    settings = WebhookSettings(
        targets=[
            target(
                secret={"value": SECRET},
                additional_secrets=[{"value": "inline-SEKRIT"}],
                headers={"Authorization": f"Bearer {BEARER}", "X-Key": {"value": BEARER}},
            )
        ]
    )
    rendered = [repr(settings), str(settings), settings.model_dump_json(), repr(settings.targets)]
    for text in rendered:
        assert SECRET not in text
        assert SECRET.removeprefix("whsec_") not in text
        assert "inline-SEKRIT" not in text
        assert BEARER not in text
    [resolved, _] = settings.targets[0].resolve_secrets({})
    assert SECRET not in repr(resolved) and SECRET not in str(resolved)


def test_json_schema_is_available_for_config_schema_command() -> None:
    schema = WebhookSettings.model_json_schema()
    assert "targets" in schema["properties"]
