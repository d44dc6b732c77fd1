"""The PrometheusServer test helper against the real Debian prometheus binary."""

from __future__ import annotations

import socket

import pytest

from tests.services.prometheus import PrometheusError, PrometheusServer

pytestmark = pytest.mark.prometheus


def test_scrapes_itself_and_answers_queries() -> None:
    with PrometheusServer(scrape_self=True) as prom:
        up = prom.wait_for('up{job="prometheus"} == 1')
        assert up[0]["metric"]["instance"] == prom.address
        assert up[0]["value"][1] == "1"
        assert prom.query("1 + 1")[0]["value"][1] == "2"
        port = prom.port
    assert port is not None
    with pytest.raises(PrometheusError, match="not started"):
        _ = prom.url
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_bad_query_raises_with_the_api_error() -> None:
    with PrometheusServer(scrape_self=True) as prom, pytest.raises(PrometheusError, match="400"):
        prom.query("sum(")
