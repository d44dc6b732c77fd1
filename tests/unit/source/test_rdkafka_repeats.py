"""librdkafka complaints are logged once per minute, not once per reconnection attempt."""

from __future__ import annotations

from drift_monitor.source.rdkafka import REPEAT_S, _Repeats


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_repeat_within_the_interval_is_dropped_numbers_aside() -> None:
    clock = _Clock()
    r = _Repeats(clock)
    assert r.fresh("sasl://127.0.0.1:39841: handshake failed (after 0ms)")
    clock.t += 5
    assert not r.fresh("sasl://127.0.0.1:39841: handshake failed (after 1ms)")
    assert r.fresh("another complaint")
    clock.t += REPEAT_S
    assert r.fresh("sasl://127.0.0.1:39841: handshake failed (after 3ms)")


def test_it_remembers_a_bounded_number_of_texts() -> None:
    clock = _Clock()
    r = _Repeats(clock)
    for i in range(300):
        assert r.fresh(f"complaint {chr(65 + i % 26)}{chr(65 + i // 26)}")
    assert len(r._said) <= 256
