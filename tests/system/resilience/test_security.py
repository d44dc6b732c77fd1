"""Security checks behind docs/RELIABILITY.md's review.

Static (every run): the package deserialises nothing unsafely and evaluates no code
(no pickle/marshal/shelve, ``eval``/``exec``/``compile``, ``yaml.load``/``unsafe_load``,
``np.load(allow_pickle=True)``, ``os.system``, ``shell=True``), and every SQL statement
is a constant string with ``?`` parameters (no data formatted into SQL).

Live (``kafka``): a daemon whose webhook secret and bearer token come from environment
variables, logging at DEBUG as JSON, goes through a drift incident whose webhook is
retried (503), delivered (200, with the bearer token) and dead (400). Neither value,
nor any signature sent, appears in its log, ``/status``, ``/metrics``, ``/readyz``, the
files of its state directory, or ``config validate``'s output. Its HTTP port is bound
on 127.0.0.1 only (``http.host``'s default).
"""

from __future__ import annotations

import ast
import base64
import random
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import drift_monitor
from drift_monitor.config.models import HttpSettings
from drift_monitor.demo.receiver import WebhookReceiver
from tests.services.daemon import CLI, DaemonProcess, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.streams import produce
from tests.services.webhooks import loopback_webhooks, wait_received
from tests.system.resilience.kafka_support import aligned_past, event, report

PACKAGE = Path(drift_monitor.__file__).parent
SECRET_ENV = "DRIFT_MONITOR_RESILIENCE_SECURITY_SECRET"
TOKEN_ENV = "DRIFT_MONITOR_RESILIENCE_SECURITY_TOKEN"

_BANNED_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "jsonpickle"}
_BANNED_CALLS = {"eval", "exec", "compile", "__import__"}
_SQL_METHODS = {"execute", "executemany", "executescript"}


def _sources() -> Iterator[tuple[Path, ast.AST]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_no_unsafe_deserialisation_or_code_evaluation() -> None:
    found: list[str] = []
    scanned = 0
    for path, tree in _sources():
        scanned += 1
        where = path.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names]
                if isinstance(node, ast.ImportFrom) and node.module:
                    names.append(node.module)
                bad = {n.split(".")[0] for n in names} & _BANNED_MODULES
                if bad:
                    found.append(f"{where}:{node.lineno}: imports {sorted(bad)}")
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            owner = (
                f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            )
            if isinstance(f, ast.Name) and name in _BANNED_CALLS:
                found.append(f"{where}:{node.lineno}: {name}()")
            if owner == "yaml" and name in {"load", "load_all", "unsafe_load", "full_load"}:
                found.append(f"{where}:{node.lineno}: yaml.{name}()")
            if owner == "os" and name in {"system", "popen"}:
                found.append(f"{where}:{node.lineno}: os.{name}()")
            shell = _kw(node, "shell")
            if isinstance(shell, ast.Constant) and shell.value is True:
                found.append(f"{where}:{node.lineno}: shell=True")
            if name == "load" and owner in {"np", "numpy"}:
                pickle = _kw(node, "allow_pickle")
                if not (isinstance(pickle, ast.Constant) and pickle.value is False):
                    found.append(f"{where}:{node.lineno}: np.load without allow_pickle=False")
    assert scanned > 50
    assert not found, "\n".join(found)


def _upper_name(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id.lstrip("_").isupper()


def _constant_sql(arg: ast.expr) -> bool:
    """A literal, a module constant (UPPER_CASE, e.g. a schema script), or an f-string
    whose only fields are module constants."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return True
    if _upper_name(arg):
        return True
    if isinstance(arg, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant)
            or (isinstance(v, ast.FormattedValue) and _upper_name(v.value))
            for v in arg.values
        )
    return False


def test_sql_statements_are_constants_with_parameters() -> None:
    statements = 0
    bad: list[str] = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _SQL_METHODS
                and node.args
            ):
                statements += 1
                if not _constant_sql(node.args[0]):
                    where = path.relative_to(PACKAGE.parent)
                    bad.append(f"{where}:{node.lineno}: {ast.unparse(node.args[0])[:80]}")
    assert statements >= 10  # the webhook outbox
    assert not bad, "SQL built from data:\n" + "\n".join(bad)


# -- a running daemon ------------------------------------------------------------------


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    out: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                out.add(addr)
    return out


@pytest.mark.kafka
@pytest.mark.slow
def test_secrets_never_leak_from_a_running_daemon(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    key = secrets.token_bytes(32)
    secret = "whsec_" + base64.b64encode(key).decode()
    token = "tok-" + secrets.token_hex(16)
    monkeypatch.setenv(SECRET_ENV, secret)
    monkeypatch.setenv(TOKEN_ENV, token)
    receiver = WebhookReceiver(secret).start()
    receiver.answer(503, 200, 400)  # detected: retried, then delivered; resolved: dead
    topic = unique("security")
    kafka_broker.create_topic(topic)
    d = topic_daemon(
        "security",
        topic,
        ["sec"],
        bootstrap=kafka_broker.bootstrap,
        window_seconds=10.0,
        allowed_lateness_seconds=0.5,
        idle_timeout_seconds=2.0,
        audit_windows=True,
        overrides={
            "defaults": {"episodes": {"enter_after": 1, "resolve_after": 1}},
            "logging": {"level": "DEBUG", "format": "json"},
            "webhooks": loopback_webhooks(
                receiver.url,
                SECRET_ENV,
                timeout_seconds=None,
                headers={"Authorization": {"env": TOKEN_ENV, "prefix": "Bearer "}},
            ),
        },
    )
    assert secret not in d.config_path.read_text() and token not in d.config_path.read_text()
    d.start()

    rng = random.Random(5)
    t0 = aligned_past(10.0)
    values = [
        event(rng, "sec", f"s{k}-{j}", t0 + k * 10 + j * 0.02, shift=2.0 if k == 0 else 0.0)
        for k in range(2)
        for j in range(500)
    ]
    produce(kafka_broker.bootstrap, topic, values, [b"sec"] * len(values))
    wait_received(receiver, 3, 60, on_timeout=d.log_tail)  # 503, 200, 400
    wait_for(
        lambda: d.metrics().total("drift_monitor_webhook_deliveries_total", outcome="dead") == 1,
        30,
        "the dead delivery counted",
        on_timeout=d.log_tail,
    )
    hits = receiver.snapshot()
    assert [h.answered for h in hits] == [503, 200, 400]
    assert all(h.verified for h in hits)
    assert {h.headers.get("authorization") for h in hits} == {f"Bearer {token}"}
    signatures = [h.headers["webhook-signature"].split(",", 1)[1] for h in hits]

    surfaces: dict[str, bytes] = {
        "/status": d.get("/status")[1],
        "/metrics": d.get("/metrics")[1],
        "/readyz": d.get("/readyz")[1],
        "/healthz": d.get("/healthz")[1],
    }
    listening = _listening_addresses(d.config.port)
    validate = subprocess.run(
        [*CLI, "config", "validate", str(d.config_path)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert validate.returncode == 0, validate.stderr
    surfaces["config validate"] = validate.stdout + validate.stderr
    d.sigterm()
    surfaces["log"] = d.log_path.read_bytes()
    for f in sorted(d.config.state_dir.rglob("*")):
        if f.is_file():
            surfaces[f"state/{f.name}"] = f.read_bytes()

    needles = {
        "secret": secret.encode(),
        "secret (base64 part)": secret.removeprefix("whsec_").encode(),
        "secret (key bytes)": key,
        "token": token.encode(),
        **{f"signature {i}": s.encode() for i, s in enumerate(signatures)},
    }
    leaks = [
        f"{what} in {where}"
        for where, text in surfaces.items()
        for what, needle in needles.items()
        if needle in text
    ]
    log_lines = surfaces["log"].count(b"\n")
    record_property(
        "security",
        report(
            "security",
            {
                "surfaces_checked": sorted(surfaces),
                "log_lines": log_lines,
                "webhook_requests": len(hits),
                "leaks": len(leaks),
                "listening": sorted(listening),
            },
        ),
    )
    assert not leaks, leaks
    # The log is not trivially empty: the deliveries and the dead one are in it.
    assert b"webhook delivery dead" in surfaces["log"] and b"retrying" in surfaces["log"]
    assert b"webhooks.targets" not in surfaces["/status"]
    # http.host defaults to 127.0.0.1 and the daemon listens there only.
    assert HttpSettings().host == "127.0.0.1"
    assert listening == {"0100007F"}, listening
