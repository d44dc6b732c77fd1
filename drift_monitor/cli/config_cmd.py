"""``drift-monitor config validate FILE`` and ``config schema``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from drift_monitor.config import AppConfig, check_secrets, load_config


def register(sub: Any) -> None:
    """Add ``config validate`` and ``config schema`` to the CLI."""
    p = sub.add_parser("config", help="validate a config file or print its JSON Schema")
    csub = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    v = csub.add_parser("validate", help="validate a YAML config (exit 2 with the bad field)")
    v.add_argument("path")
    v.set_defaults(handler=_validate)
    s = csub.add_parser("schema", help="print the config's JSON Schema")
    s.set_defaults(handler=_schema)


def _validate(args: argparse.Namespace) -> int:
    cfg = load_config(args.path)
    check_secrets(cfg, args.path)
    models = ", ".join(m.name for m in cfg.models)
    print(
        f"{args.path}: ok ({len(cfg.models)} model(s): {models}; "
        f"{len(cfg.webhooks.targets)} webhook target(s))"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    json.dump(AppConfig.model_json_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
