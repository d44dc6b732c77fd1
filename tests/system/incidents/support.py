"""The daemon config shared by the incident tests on the real broker."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tests.service.incidents.streams import MODEL, write_baseline
from tests.services.daemon import DaemonConfig
from tests.services.kafka import KafkaBroker


def incident_config(
    broker: KafkaBroker, tmp_path: Path, prefix: str, **fields: Any
) -> DaemonConfig:
    """A config for the incident stream's model (``MODEL`` of
    tests/service/incidents/streams.py) consuming a new topic of ``broker``, named
    ``{prefix}-{pid}-{monotonic ns}`` (created here), in group ``{topic}-group``; the
    model's baseline is written to ``tmp_path/baselines``. The state lives in
    ``tmp_path/state`` unless ``fields`` names a ``state_dir``; ``fields`` are further
    :class:`DaemonConfig` fields."""
    topic = f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"
    broker.create_topic(topic)
    write_baseline(tmp_path / "baselines")
    fields.setdefault("state_dir", tmp_path / "state")
    return DaemonConfig(
        bootstrap=broker.bootstrap,
        topics=[topic],
        group_id=f"{topic}-group",
        models=[MODEL],
        baselines_dir=tmp_path / "baselines",
        **fields,
    )
