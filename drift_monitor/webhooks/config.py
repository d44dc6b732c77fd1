"""Webhook configuration: targets, secrets by reference, retry policy.

Secrets are never held in the model as plain strings: a ``SecretRef`` names where the
secret lives (an env variable, a file, or - discouraged - the config itself) and
``resolve()`` reads it when a request is signed, so a rotated file is picked up without
a restart. Resolved values are ``pydantic.SecretStr``; their ``repr``/``str`` is
``'**********'``. Errors name the target and field, never the value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)

from drift_monitor.errors import ConfigError, WebhookError
from drift_monitor.settings import SecretRef
from drift_monitor.webhooks.policy import DEFAULT_DENY_NETWORKS, TargetPolicy
from drift_monitor.webhooks.signing import secret_key

Preset = Literal["standard", "github_repository_dispatch", "airflow_dag_run"]

# Set by the sender on every request; a configured header must not shadow them.
RESERVED_HEADERS = frozenset(
    {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "connection",
    }
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class HeaderRef(SecretRef):
    """A header value read from a secret (``env``/``file``/``value``), after ``prefix``.

    Example: ``{env: AIRFLOW_TOKEN, prefix: "Bearer "}`` sends
    ``Authorization: Bearer <value of $AIRFLOW_TOKEN>``.
    """

    prefix: str = Field(default="", description="Text sent before the secret, e.g. 'Bearer '.")


class WebhookTarget(BaseModel):
    """One receiver of retraining webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Unique name; used in logs and in the outbox (renaming drops pending rows).",
    )
    url: str = Field(description="http:// or https:// URL the JSON body is POSTed to.")
    secret: SecretRef = Field(description="Standard Webhooks signing secret.")
    additional_secrets: list[SecretRef] = Field(
        default_factory=list,
        description="Extra secrets to sign with during a key rotation (one signature each).",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Whole-request deadline, seconds."
    )
    # Inline values are SecretStr too: they may be credentials, so no repr or dump shows them.
    headers: dict[str, SecretStr | HeaderRef] = Field(
        default_factory=dict,
        description="Extra request headers; a value may be {env: NAME, prefix: 'Bearer '}.",
    )
    preset: Preset = Field(default="standard", description="Request body shape.")
    models: list[str] = Field(
        default_factory=list, description="Models this target serves; empty means all."
    )
    event_type: str = Field(
        default="drift-monitor",
        min_length=1,
        max_length=100,
        description="GitHub repository_dispatch event_type (preset github_repository_dispatch).",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(
                f"url must start with http:// or https://, got scheme {parts.scheme!r}"
            )
        if not parts.hostname:
            raise ValueError("url has no host")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "url must not contain credentials (user:password@); send them in 'headers' "
                "with {env: NAME} instead"
            )
        if parts.fragment:
            raise ValueError("url must not have a #fragment")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("url has an invalid port") from None
        if any(c.isspace() for c in url):
            raise ValueError("url must not contain whitespace")
        return url

    @field_validator("headers")
    @classmethod
    def _check_headers(
        cls, headers: dict[str, SecretStr | HeaderRef]
    ) -> dict[str, SecretStr | HeaderRef]:
        seen: set[str] = set()
        for name, value in headers.items():
            lower = name.lower()
            if not _TOKEN.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if lower in RESERVED_HEADERS:
                raise ValueError(
                    f"header {name!r} is set by drift-monitor and cannot be configured"
                )
            if lower in seen:
                raise ValueError(f"header {name!r} is given twice (names are case-insensitive)")
            seen.add(lower)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value.prefix
            if "\r" in text or "\n" in text:
                raise ValueError(f"header {name!r} must not contain a line break")
        return headers

    def serves(self, model: str) -> bool:
        """True when this target receives triggers of ``model`` (empty ``models``: every model)."""
        return not self.models or model in self.models

    def resolve_secrets(self, environ: Mapping[str, str] | None = None) -> list[SecretStr]:
        """The signing secrets, primary first, read now from env/files.

        Raises ``ConfigError`` naming the target and field when one is missing or is a
        malformed ``whsec_`` value; the message never contains the secret.
        """
        refs = [("secret", self.secret)] + [
            (f"additional_secrets[{i}]", r) for i, r in enumerate(self.additional_secrets)
        ]
        resolved: list[SecretStr] = []
        for field, ref in refs:
            where = f"webhooks.targets[{self.name}].{field}"
            secret = ref.resolve(where, environ)
            try:
                secret_key(secret.get_secret_value())
            except WebhookError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            resolved.append(secret)
        return resolved

    def resolve_headers(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The configured extra headers with env/file references read now.

        The result may hold credentials: pass it to the transport, never to a logger.
        Raises ``ConfigError`` naming the target and header for a missing reference or
        a value with a line break.
        """
        out: dict[str, str] = {}
        for name, value in self.headers.items():
            if isinstance(value, SecretStr):
                out[name] = value.get_secret_value()
                continue
            where = f"webhooks.targets[{self.name}].headers.{name}"
            text = value.prefix + value.resolve(where, environ).get_secret_value()
            if "\r" in text or "\n" in text:
                raise ConfigError(f"{where}: the value contains a line break")
            out[name] = text
        return out


class WebhookSettings(BaseModel):
    """The ``webhooks`` section of the config: targets and the retry policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: list[WebhookTarget] = Field(default_factory=list)
    max_age_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="Keep retrying a delivery for this long after it was enqueued, seconds.",
    )
    initial_backoff_seconds: float = Field(
        default=2.0, gt=0, description="Backoff cap before the first retry, seconds."
    )
    max_backoff_seconds: float = Field(
        default=600.0, gt=0, description="Largest backoff cap between retries, seconds."
    )
    signature_tolerance_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Timestamp tolerance receivers should verify with, seconds.",
    )
    max_deliveries_per_run: int = Field(
        default=50, ge=1, description="Deliveries attempted per deliver_due() call."
    )
    history_size: int = Field(
        default=10_000,
        ge=0,
        description="Finished deliveries remembered in the outbox (dedupe of re-enqueues).",
    )
    deny_networks: list[IPvAnyNetwork] = Field(
        default_factory=lambda: [ipaddress.ip_network(n) for n in DEFAULT_DENY_NETWORKS],
        description="Webhook targets may not be in these networks (default: loopback, "
        "link-local incl. the cloud metadata address 169.254.169.254, unspecified, "
        "multicast; private networks are allowed). A target URL whose host is an IP "
        "literal or a localhost name in these networks is a validation error.",
    )
    allow_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Exemptions from deny_networks, e.g. ['127.0.0.0/8'] for a receiver on "
        "this machine (the demo and tests do this).",
    )

    @model_validator(mode="after")
    def _check(self) -> WebhookSettings:
        names = [t.name for t in self.targets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"target names must be unique; repeated: {', '.join(duplicates)}")
        if self.initial_backoff_seconds > self.max_backoff_seconds:
            raise ValueError("initial_backoff_seconds must be <= max_backoff_seconds")
        policy = self.target_policy()
        for t in self.targets:
            problem = policy.literal_host_problem(urlsplit(t.url).hostname or "")
            if problem is not None:
                raise ValueError(f"webhooks.targets[{t.name}].url: {problem}")
        return self

    def target_policy(self) -> TargetPolicy:
        """The deny/allow networks, for :class:`~drift_monitor.webhooks.HttpTransport`."""
        return TargetPolicy.of(self.deny_networks, self.allow_networks)

    def target(self, name: str) -> WebhookTarget | None:
        """The target called ``name``, or ``None`` when it is not configured (any more)."""
        return next((t for t in self.targets if t.name == name), None)

    def check_secrets(self, environ: Mapping[str, str] | None = None) -> None:
        """Resolve every secret and header reference now; for start-up and ``config validate``.

        Raises the first ``ConfigError`` (target and field named, value never shown).
        """
        for target in self.targets:
            target.resolve_secrets(environ)
            target.resolve_headers(environ)
