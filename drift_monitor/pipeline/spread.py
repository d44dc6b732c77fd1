"""Scale-out check: is a model's traffic split over partitions this process does not
all own?"""

from __future__ import annotations

TopicPartition = tuple[str, int]


def partial_traffic(
    spread: dict[str, set[TopicPartition]],
    assignment: set[TopicPartition],
    partition_counts: dict[str, int],
) -> dict[str, str | None]:
    """Per model, a warning when its events arrive on several partitions while this
    process does not own every partition of the topic (its windows then hold only a
    fraction of its traffic), else None. ``spread``: model -> partitions seen on."""
    owned: dict[str, set[int]] = {}
    for t, p in assignment:
        owned.setdefault(t, set()).add(p)
    out: dict[str, str | None] = {}
    for m, tps in spread.items():
        partial = len(tps) > 1 and any(
            len(owned.get(t, set())) < partition_counts.get(t, 0) for t, _ in tps
        )
        out[m] = (
            f"model {m!r} arrives on {len(tps)} partitions and this process owns only "
            "some of them: its windows see a fraction of its traffic. Key events by "
            "model (record key = model name) so each model lives on one partition."
            if partial
            else None
        )
    return out
