"""The one /metrics scraper of the harness: fetch a Prometheus text exposition over
HTTP and read it as typed samples (tests, benchmarks and the daemon harness use it)."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, list[tuple[dict[str, str], float]]]


@dataclass(frozen=True)
class Metrics:
    """One parsed /metrics scrape: samples by name, each with its labels."""

    samples: Samples
    families: dict[str, str]  # family name -> type

    @classmethod
    def parse(cls, text: str) -> Metrics:
        """Parse a text exposition (prometheus_client's parser; ValueError when bad)."""
        samples: Samples = {}
        families: dict[str, str] = {}
        for fam in text_string_to_metric_families(text):
            families[fam.name] = fam.type
            for s in fam.samples:
                samples.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
        return cls(samples, families)

    def get(self, name: str, **labels: str) -> float | None:
        """The value of the one sample ``name`` whose labels include ``labels``
        (None when there is none; AssertionError when several match)."""
        found = self.select(name, **labels)
        if not found:
            return None
        assert len(found) == 1, f"{name}{labels} matches {len(found)} samples: {found}"
        return found[0][1]

    def value(self, name: str, default: float = 0.0, **labels: str) -> float:
        """Like :meth:`get`, with ``default`` for an absent sample (e.g. a counter
        that has not been incremented yet)."""
        v = self.get(name, **labels)
        return default if v is None else v

    def select(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        """Every sample ``name`` whose labels include ``labels``."""
        return [
            (lab, v)
            for lab, v in self.samples.get(name, [])
            if all(lab.get(k) == want for k, want in labels.items())
        ]

    def by_label(self, name: str, key: str, **labels: str) -> dict[str, float]:
        """``{label value of key: sample value}`` over :meth:`select`."""
        return {lab[key]: v for lab, v in self.select(name, **labels)}

    def total(self, name: str, **labels: str) -> float:
        """Sum of every matching sample (0.0 when none matches)."""
        return sum(v for _, v in self.select(name, **labels))


def scrape(url: str, timeout: float = 5.0) -> Metrics:
    """GET ``url`` (a full ``.../metrics`` URL) and parse it; ``timeout`` in seconds.
    OSError (incl. HTTPError) when the endpoint does not answer 200."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return Metrics.parse(resp.read().decode())


def try_scrape(url: str, timeout: float = 2.0) -> Metrics | None:
    """Like :func:`scrape`, None when the endpoint does not answer."""
    try:
        return scrape(url, timeout)
    except OSError:
        return None
