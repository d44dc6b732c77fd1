"""Logging set-up: plain text or structured JSON lines on stderr.

JSON lines carry ``ts``, ``level``, ``logger``, ``message`` and any structured fields
passed with ``extra=`` (model, topic, partition, offset, reason, episode, …).
"""

from __future__ import annotations

import json
import logging
import sys
import time

_STD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` with its extra fields."""
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class _KafkaNoise(logging.Filter):
    """Two kafka-python ERROR lines that are not failures of ours.

    - closing cancels an in-flight metadata request ("Cancelled"): on a clean shutdown
      that line would only mislead whoever reads the logs;
    - "Topic X not found in cluster metadata" on the first send to a topic the broker
      auto-creates: demoted to DEBUG. A topic that stays missing is still reported, by
      our producers, as a SinkError naming the topic (their flush times out).
    """

    _NOT_FOUND = "Topic %s not found in cluster metadata"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "kafka.cluster":
            return True
        if "Cancelled" in record.getMessage():
            return False
        if record.msg == self._NOT_FOUND:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Route drift-monitor's logs to stderr as ``text`` or ``json``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_KafkaNoise())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("drift_monitor").setLevel(level)
