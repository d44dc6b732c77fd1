"""What every stage's settings share: the strict base model (a misspelled field is an
error, not a silent default, as alibi-detect's ``extra="forbid"``; immutable once
validated) and ``SecretRef``, a secret named by reference (webhook keys, Kafka SASL/SSL
passwords) and read only when used, never logged."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from drift_monitor.errors import ConfigError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StrictModel(BaseModel):
    """Base of the settings models of every stage; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(BaseModel):
    """Where a secret lives: exactly one of ``env``, ``file`` or ``value``.

    ``env``: name of an environment variable. ``file``: path of a file whose content,
    with trailing whitespace/newlines stripped, is the secret (Kubernetes/Docker
    secrets). ``value``: the secret inline in the config - discouraged, since config
    files end up in repositories and tickets.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(default=None, description="Environment variable holding the secret.")
    file: Path | None = Field(default=None, description="File holding the secret.")
    value: SecretStr | None = Field(
        default=None, description="The secret itself (discouraged: prefer env or file)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [n for n in ("env", "file", "value") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'env', 'file' or 'value' "
                f"(got {', '.join(given) if given else 'none'})"
            )
        if self.env is not None and not _ENV_NAME.match(self.env):
            # Never echo it: what is not a variable name is often the secret pasted in.
            raise ValueError(
                "'env' must be the name of an environment variable (letters, digits, _), "
                "not the secret itself; the value given is not shown"
            )
        return self

    def resolve(self, where: str, environ: Mapping[str, str] | None = None) -> SecretStr:
        """Read the secret now; ``where`` names it in errors (``webhooks.targets[x].secret``).

        ``environ`` defaults to ``os.environ``. Raises ``ConfigError`` naming ``where``
        and the env variable or file (never the value) when the variable is unset or
        empty, or the file is missing, unreadable, not UTF-8 or empty.
        """
        if self.value is not None:
            if not self.value.get_secret_value():
                raise ConfigError(f"{where}: 'value' is empty")
            return self.value
        if self.env is not None:
            env = os.environ if environ is None else environ
            raw = env.get(self.env, "")
            if not raw.strip():
                raise ConfigError(
                    f"{where}: environment variable {_shown_env(self.env)} is unset or empty; "
                    "export it or point the secret at a file"
                )
            return SecretStr(raw.strip())
        assert self.file is not None
        try:
            text = self.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8"
            raise ConfigError(
                f"{where}: cannot read secret file {str(self.file)!r} ({reason}); "
                "check the path and its permissions"
            ) from None
        secret = text.rstrip("\r\n\t ")
        if not secret:
            raise ConfigError(f"{where}: secret file {str(self.file)!r} is empty")
        return SecretStr(secret)


def _shown_env(name: str) -> str:
    """``name`` as it may appear in an error: a conventional variable name is shown; one
    that looks like a secret pasted into ``env`` (a ``whsec_`` key, lower case letters
    mixed with digits, very long) is not."""
    conventional = re.fullmatch(r"[A-Z_][A-Z0-9_]{0,63}", name) is not None
    if conventional and not name.upper().startswith("WHSEC_"):
        return name
    return "(named in 'env'; not shown: it looks like a secret value, not a variable name)"
