"""Items 10 and 11 of issue 12: `config validate` on hostile or mistaken configs.

Each must be one line naming the field (exit 2), quickly, and never echo a secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from drift_monitor.cli import main
from drift_monitor.config import load_config

BASE = """\
kafka:
  bootstrap_servers: ["127.0.0.1:9092"]
  topics: [events]
{kafka_extra}
models: [{{name: m}}]
{extra}
"""


def write(tmp_path: Path, kafka_extra: str = "", extra: str = "") -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(BASE.format(kafka_extra=textwrap.indent(kafka_extra, "  "), extra=extra))
    return p


def validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["config", "validate", str(path)])
    out, err = capsys.readouterr()
    return code, out + err


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


PROBE = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from drift_monitor.config import load_config
    from drift_monitor.errors import ConfigError
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.monotonic()
    try:
        load_config(sys.argv[1])
        error = None
    except ConfigError as exc:
        error = str(exc)
    seconds = time.monotonic() - t
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"error": error, "seconds": seconds, "grown_mb": grown}))
    """
)


def test_yaml_alias_bomb_is_rejected_quickly_and_small(tmp_path: Path) -> None:
    path = write(tmp_path, extra=alias_bomb())
    assert path.stat().st_size < 1024
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["error"] is not None and "YAML aliases" in result["error"]
    assert result["seconds"] < 1.0, result
    assert result["grown_mb"] < 50, result


def test_alias_bomb_through_config_validate_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = validate(write(tmp_path, extra=alias_bomb()), capsys)
    assert code == 2 and len(text.strip().splitlines()) == 1 and "c.yaml" in text


def test_recursive_alias_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = validate(write(tmp_path, extra="loop: &l [*l]\n"), capsys)
    assert code == 2 and "refers to itself" in text


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(
        textwrap.dedent(
            """\
            kafka: {bootstrap_servers: ["127.0.0.1:9092"], topics: [events]}
            x-window: &w {size_seconds: 60, allowed_lateness_seconds: 5}
            models:
              - {name: a, window: *w}
              - name: b
                window: {<<: *w, size_seconds: 120}
            """
        )
    )
    with pytest.raises(Exception) as err:  # x-window is not a config field ...
        load_config(p)
    assert "x-window" in str(err.value) and "unknown field" in str(err.value)
    p.write_text(
        p.read_text()
        .replace("x-window: &w", "defaults: {window: &w")
        .replace("allowed_lateness_seconds: 5}", "allowed_lateness_seconds: 5}}")
    )
    cfg = load_config(p)  # ... but the same anchors under a real section are fine
    assert [m.window.size_seconds for m in cfg.models] == [60, 120]
    assert cfg.models[1].window.allowed_lateness_seconds == 5


def test_config_file_too_large(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, extra="# " + "x" * (2 << 20) + "\n")
    code, text = validate(p, capsys)
    assert code == 2 and "larger than" in text


SECRETS = [
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # a valid variable name: "unset" path
    "whsec_MfKQ9r8GKYqrTwjU+PD8ILPZIo2L/aLaSw==",  # not a variable name
    "s3cr3tPassw0rdThatIsLongEnough",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_secret_pasted_into_env_is_never_echoed(
    secret: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = (
        "webhooks:\n  targets:\n    - name: t\n      url: https://example.org/hook\n"
        f"      secret: {{env: '{secret}'}}\n"
    )
    code, text = validate(write(tmp_path, extra=extra), capsys)
    assert code == 2, text
    assert "webhooks.targets" in text and "secret" in text
    assert secret not in text and secret[6:20] not in text


@pytest.mark.parametrize("secret", SECRETS)
def test_sasl_password_pasted_into_env_is_never_echoed(
    secret: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kafka = (
        f"security_protocol: SASL_PLAINTEXT\nsasl: {{username: u, password: {{env: '{secret}'}}}}\n"
    )
    code, text = validate(write(tmp_path, kafka_extra=kafka), capsys)
    assert code == 2, text
    assert "kafka.sasl.password" in text
    assert secret not in text and secret[6:20] not in text


def test_conventional_env_name_is_still_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DM_WEBHOOK_SECRET", raising=False)
    extra = (
        "webhooks:\n  targets:\n    - name: t\n      url: https://example.org/hook\n"
        "      secret: {env: DM_WEBHOOK_SECRET}\n"
    )
    code, text = validate(write(tmp_path, extra=extra), capsys)
    assert code == 2 and "DM_WEBHOOK_SECRET is unset" in text


@pytest.mark.parametrize(
    ("kafka_extra", "field"),
    [
        ("security_protocol: SSL\nssl: {cafile: /nonexistent/ca.pem}\n", "kafka.ssl.cafile"),
        ("security_protocol: SSL\nssl: {certfile: missing.pem}\n", "kafka.ssl.certfile"),
        (
            "security_protocol: PLAINTEXT\nsasl: {username: u, password: {value: p}}\n",
            "kafka.sasl",
        ),
        ("security_protocol: SSL\nsasl: {username: u, password: {value: p}}\n", "kafka.sasl"),
        ("security_protocol: SASL_SSL\n", "kafka.sasl"),
        ("ssl: {check_hostname: false}\n", "kafka.ssl"),
        ("dead_letter_topic: 'dead letters'\n", "kafka.dead_letter_topic"),
        ("dead_letter_topic: 'dlq/events'\n", "kafka.dead_letter_topic"),
        (f"dead_letter_topic: {'d' * 250}\n", "kafka.dead_letter_topic"),
        ("report_topic: 'reports!'\n", "kafka.report_topic"),
        ("report_topic: '..'\n", "kafka.report_topic"),
    ],
)
def test_kafka_mistakes_are_validation_errors_naming_the_field(
    kafka_extra: str, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = validate(write(tmp_path, kafka_extra=kafka_extra), capsys)
    assert code == 2, text
    assert field in text and len(text.strip().splitlines()) == 1, text


def test_legal_topic_names_and_tls_files_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ca.pem").write_text("not checked here, only that it exists\n")
    kafka = (
        "security_protocol: SASL_SSL\nssl: {cafile: ca.pem}\n"
        "sasl: {username: u, password: {value: p}}\n"
        f"dead_letter_topic: {'d' * 249}\nreport_topic: drift.reports_v1-x\n"
    )
    code, text = validate(write(tmp_path, kafka_extra=kafka), capsys)
    assert code == 0, text
