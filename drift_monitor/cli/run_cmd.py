"""``drift-monitor run --config FILE``: the daemon."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from drift_monitor.config import check_secrets, load_config
from drift_monitor.logs import configure_logging

log = logging.getLogger("drift_monitor.daemon")


def register(sub: Any) -> None:
    """Add ``run`` to the CLI."""
    p = sub.add_parser("run", help="run the daemon: consume Kafka, evaluate, export, alert")
    p.add_argument("--config", required=True, help="YAML config file")
    p.add_argument(
        "--evaluate-on-stop",
        action="store_true",
        help="on SIGTERM/SIGINT, evaluate every model's open windows before the last "
        "commit (window.evaluate_on_stop for all models)",
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    check_secrets(config, args.config)
    configure_logging(config.logging.level, config.logging.format)
    # Imported here so that `drift-monitor check` never loads a Kafka client.
    from drift_monitor.daemon import Monitor, subscribed  # noqa: PLC0415
    from drift_monitor.source.factory import build_kafka  # noqa: PLC0415

    k = subscribed(config)  # the prediction topics and the models' labels topics
    kafka = build_kafka(k)
    monitor = Monitor(
        config,
        kafka.source,
        dead_letters=kafka.dead_letters,
        reports=kafka.reports,
        evaluate_on_stop=args.evaluate_on_stop,
    )
    # A missing topic shows at start-up (log line, sink_up 0, /readyz 503), not at the
    # first invalid event or incident; rechecked until it exists.
    # Records passed over unread (retention, offset resets) are counted and shown.
    kafka.watch(monitor.state)
    monitor.install_signal_handlers()
    log.info(
        "drift-monitor consuming %s from %s as group %s (client %s)",
        ",".join(k.topics),
        ",".join(k.bootstrap_servers),
        k.group_id,
        k.client,
    )
    monitor.run()
    log.info("stopped cleanly")
    return 0
